# Builds examples/ in this tree, as its users build it: examples/wordcount is a project of its own
# that calls find_package(brook); here that finds a package stub standing for this tree's targets.
include(CMakePackageConfigHelpers)
set(_brook_stub ${PROJECT_BINARY_DIR}/in-tree-package)
file(WRITE ${_brook_stub}/brookConfig.cmake
     "# brook is being built in this tree: brook::brook and brook::testing exist already.\n")
write_basic_package_version_file(${_brook_stub}/brookConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
set(brook_DIR ${_brook_stub} CACHE PATH "brook's package (this tree)" FORCE)
if(EXISTS ${PROJECT_SOURCE_DIR}/examples/wordcount/CMakeLists.txt)
  add_subdirectory(${PROJECT_SOURCE_DIR}/examples/wordcount ${PROJECT_BINARY_DIR}/examples/wordcount)
endif()

# The node samples of README.md and docs/sdk.md are compiled, so they cannot rot: the first C++
# block of each file becomes an executable linked with brook::brook alone.
foreach(doc README.md docs/sdk.md)
  if(NOT EXISTS ${PROJECT_SOURCE_DIR}/${doc})
    continue()
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${doc})
  file(READ ${PROJECT_SOURCE_DIR}/${doc} _text)
  string(REGEX MATCH "```cpp\n([^`]*)```" _block "${_text}")
  if(NOT _block)
    message(FATAL_ERROR "${doc}: no ```cpp block: the node sample is compiled by the build")
  endif()
  string(MAKE_C_IDENTIFIER ${doc} _id)
  file(WRITE ${PROJECT_BINARY_DIR}/doc-samples/${_id}.cpp.new "${CMAKE_MATCH_1}")
  file(COPY_FILE ${PROJECT_BINARY_DIR}/doc-samples/${_id}.cpp.new
       ${PROJECT_BINARY_DIR}/doc-samples/${_id}.cpp ONLY_IF_DIFFERENT)
  add_executable(brook-doc-sample-${_id} ${PROJECT_BINARY_DIR}/doc-samples/${_id}.cpp)
  target_link_libraries(brook-doc-sample-${_id} PRIVATE brook::brook)
endforeach()
