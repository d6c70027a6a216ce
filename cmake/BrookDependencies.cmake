# Third-party libraries as two interface targets:
#   brook_zmq   libzmq (with cppzmq's header)
#   brook_deps  brook_zmq + msgpack-cxx, yaml-cpp, Boost.Program_options, zlib, SQLite, threads
#
# With BROOK_STATIC_DEPS (the default outside sanitizer and fuzz builds) they link the static
# archives Debian's -dev packages ship, and executables link libstdc++ statically too. Why: a node
# that maps ~20 shared objects spends ~5 ms of CPU in the dynamic loader and its page faults
# before main() on this project's VMs, and `brook up` of 100 nodes pays that 100 times
# (bench/scaling.py, docs/bench.md). libgssapi_krb5 has no static archive in Debian and stays
# shared. When an archive is missing, everything falls back to the shared libraries.

option(BROOK_STATIC_DEPS
       "Link libzmq, yaml-cpp, Boost.Program_options, zlib and libstdc++ statically into executables"
       ON)
if(BROOK_SANITIZE OR BROOK_FUZZ)
  set(BROOK_STATIC_DEPS OFF)  # the sanitizers' runtimes want the shared C++ runtime
endif()
if(BUILD_SHARED_LIBS)
  set(BROOK_STATIC_DEPS OFF)  # Debian's archives are not position-independent: no libbrook.so
endif()

add_library(brook_zmq INTERFACE)
add_library(brook_deps INTERFACE)

set(_brook_static OFF)
if(BROOK_STATIC_DEPS)
  # libzmq's own dependencies (its pkg-config Requires.private), in link order.
  set(_brook_zmq_archives zmq sodium pgm norm protokit bsd md)
  set(_brook_other_archives yaml-cpp boost_program_options z sqlite3)
  set(_brook_static ON)
  foreach(name IN LISTS _brook_zmq_archives _brook_other_archives)
    find_library(BROOK_STATIC_${name} NAMES lib${name}.a)
    if(NOT BROOK_STATIC_${name})
      message(STATUS "brook: no lib${name}.a, linking the shared libraries instead")
      set(_brook_static OFF)
    endif()
  endforeach()
  find_library(BROOK_GSSAPI NAMES gssapi_krb5)
  if(NOT BROOK_GSSAPI)
    message(STATUS "brook: no libgssapi_krb5 for a static libzmq, linking the shared libraries")
    set(_brook_static OFF)
  endif()
endif()

get_target_property(_brook_cppzmq_include cppzmq INTERFACE_INCLUDE_DIRECTORIES)
if(_brook_static)
  message(STATUS "brook: static libzmq, yaml-cpp, Boost.Program_options, zlib, SQLite, libstdc++")
  set(_brook_zmq_libs)
  foreach(name IN LISTS _brook_zmq_archives)
    list(APPEND _brook_zmq_libs ${BROOK_STATIC_${name}})
  endforeach()
  # cppzmq's target would pull in the shared libzmq: take only its include directory.
  target_include_directories(brook_zmq INTERFACE ${_brook_cppzmq_include} ${ZMQ_INCLUDE_DIRS})
  target_link_libraries(brook_zmq INTERFACE ${_brook_zmq_libs} ${BROOK_GSSAPI} Threads::Threads)
  get_target_property(_brook_yaml_include yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
  if(_brook_yaml_include)
    target_include_directories(brook_deps INTERFACE ${_brook_yaml_include})
  endif()
  target_include_directories(brook_deps INTERFACE ${Boost_INCLUDE_DIRS} ${ZLIB_INCLUDE_DIRS})
  target_link_libraries(brook_deps INTERFACE brook_zmq msgpackc-cxx ${BROOK_STATIC_yaml-cpp}
                        ${BROOK_STATIC_boost_program_options} ${BROOK_STATIC_z}
                        ${BROOK_STATIC_sqlite3} ${CMAKE_DL_LIBS} m Threads::Threads)
  add_link_options($<$<LINK_LANGUAGE:CXX>:-static-libstdc++> $<$<LINK_LANGUAGE:CXX>:-static-libgcc>)
else()
  target_link_libraries(brook_zmq INTERFACE cppzmq PkgConfig::ZMQ)
  target_link_libraries(brook_deps INTERFACE brook_zmq msgpackc-cxx yaml-cpp Boost::program_options
                        ZLIB::ZLIB SQLite::SQLite3 Threads::Threads)
endif()
