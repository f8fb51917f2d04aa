# How each of tapegrad's four libraries (tensor, autograd, nn, distributions) is declared.
#
# A library's public headers are included as <tapegrad/<folder>/<header>.hpp>. Installed, they live in
# <prefix>/include/tapegrad/<folder>/; in the build tree, ${TG_INCLUDE_ROOT}/tapegrad/<folder> is a
# link to the source folder, so the same #include lines work in both (and in a parent project that
# adds tapegrad with add_subdirectory or FetchContent), and no generic name ("nn/layers.hpp") can
# collide with a header of the user's own.
set(TG_INCLUDE_ROOT ${PROJECT_BINARY_DIR}/include)
file(MAKE_DIRECTORY ${TG_INCLUDE_ROOT}/tapegrad)

# tg_library_setup(<target>): the target of the current source folder becomes tapegrad::<folder>
# (an alias here, the exported name once installed), built as libtapegrad_<folder>.a, with the
# include root and C++20 as usage requirements.
function(tg_library_setup target)
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${TG_INCLUDE_ROOT}/tapegrad/${folder} SYMBOLIC)
  get_target_property(type ${target} TYPE)
  set(scope PUBLIC)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  else()
    set_target_properties(${target} PROPERTIES OUTPUT_NAME tapegrad_${folder})
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${folder})
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${TG_INCLUDE_ROOT}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} ${scope} cxx_std_20)
  add_library(tapegrad::${folder} ALIAS ${target})
  set_property(GLOBAL APPEND PROPERTY TG_LIBRARIES ${target})
  set_property(GLOBAL APPEND PROPERTY TG_LIBRARY_FOLDERS ${folder})
endfunction()

# One static library per folder, from every .cpp in it (an interface library while a folder has none).
function(tg_folder_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(sources)
    add_library(${name} STATIC ${sources})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
  tg_library_setup(${name})
endfunction()
