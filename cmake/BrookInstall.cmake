# `cmake --install` and `cpack -G DEB` (docs/install.md): the library and brook::testing, the
# public headers, a CMake package (brookConfig.cmake, brookConfigVersion.cmake, brookTargets),
# brook.pc for pkg-config, the tools, and the documentation.
#
# Components: `dev` (library, headers, CMake and pkg-config files: the libbrook-dev package) and
# `tools` (brook, brook-directory, brook-dead-letters: the brook-tools package).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Installing and packaging take what is built and never build: cpack (tests/sdk) then cannot
# relink programs other tests are running. Build first: `cmake --build`, then `cmake --install`.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(BROOK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/brook)

install(TARGETS brook brook_testing EXPORT brookTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/brook
                  ${PROJECT_SOURCE_DIR}/framework/testing/include/brook
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT brookTargets NAMESPACE brook:: DESTINATION ${BROOK_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/brookConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/brookConfig.cmake INSTALL_DESTINATION ${BROOK_CMAKE_DIR})
# While the version is 0.x a minor step may break the API: 0.2 is not a 0.3 (docs/sdk.md).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/brookConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/brookConfig.cmake
              ${PROJECT_BINARY_DIR}/package/brookConfigVersion.cmake
        DESTINATION ${BROOK_CMAKE_DIR} COMPONENT dev)

# brook.pc finds its prefix from its own place (${pcfiledir}), so an unpacked package works too.
file(RELATIVE_PATH BROOK_PC_PREFIX_FROM_PCFILEDIR
     ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" BROOK_PC_PREFIX_FROM_PCFILEDIR "${BROOK_PC_PREFIX_FROM_PCFILEDIR}")
if(BUILD_SHARED_LIBS)
  set(BROOK_PC_REQUIRES_FIELD "Requires.private")
  set(BROOK_PC_PRIVATE_LIBS "-lboost_program_options -pthread")
  set(BROOK_PC_PUBLIC_LIBS "")
else()
  set(BROOK_PC_REQUIRES_FIELD "Requires")
  set(BROOK_PC_PRIVATE_LIBS "")
  set(BROOK_PC_PUBLIC_LIBS "-lboost_program_options -pthread")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/brook.pc.in ${PROJECT_BINARY_DIR}/package/brook.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/brook.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)

if(BROOK_BUILD_TOOLS)
  # `brook up` finds brook-directory next to itself; brook-dead-letters is a node topologies name.
  install(TARGETS brook_cli brook-directory brook-dead-letters
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
endif()

# ---- Debian packages: scripts/package -------------------------------------------------------
set(CPACK_PACKAGE_NAME brook)
set(CPACK_PACKAGE_VENDOR "brook")
set(CPACK_PACKAGE_CONTACT "brook developers <brook@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY ${PROJECT_DESCRIPTION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libbrook-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "brook: library, headers, CMake package and pkg-config file\n"
    "Write brook nodes in C++20: find_package(brook) and brook::brook, or pkg-config brook.")
# What brookConfig.cmake and brook.pc find; a static libbrook needs their libraries at link time.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libzmq3-dev (>= 4.3), libmsgpack-cxx-dev, libyaml-cpp-dev, libboost-program-options-dev, zlib1g-dev, libsqlite3-dev, pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "brook-tools (= ${PROJECT_VERSION}), libgtest-dev")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME brook-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "brook: the brook command, brook-directory and brook-dead-letters\n"
    "Launch, check, inspect and script brook topologies.")
# The tools link libzmq and the rest statically where Debian ships archives; dpkg-shlibdeps
# computes what remains (libc6, libgssapi-krb5-2).
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
include(CPack)
