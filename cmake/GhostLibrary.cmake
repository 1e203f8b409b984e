# One library per folder, and a folder's headers are visible only to the targets that link it.
#
# ghost_library(NAME DIR <folder> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# builds a static library from <folder> (relative to the repository root) and gives it an
# include root of its own, <build>/include_roots/NAME, holding one link: <folder> -> the source
# folder. Headers are still included as "engine/common/file.h", but only through the roots of
# the targets a target links: a header from a folder above (one a library does not link) is
# "No such file or directory", so a wrong-way include fails the build.
function(ghost_expose_headers target folder)
  set(root ${CMAKE_BINARY_DIR}/include_roots/${target})
  get_filename_component(parent ${root}/${folder} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT IS_SYMLINK ${root}/${folder})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${root})
  else()
    target_include_directories(${target} PUBLIC ${root})
  endif()
endfunction()

function(ghost_library name)
  cmake_parse_arguments(ARG "" "DIR" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  list(TRANSFORM ARG_SOURCES PREPEND ${CMAKE_SOURCE_DIR}/${ARG_DIR}/)
  add_library(${name} STATIC ${ARG_SOURCES})
  ghost_expose_headers(${name} ${ARG_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()
