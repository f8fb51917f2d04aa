# cmake --install: the four libraries, their public headers under include/tapegrad/, the CMake package
# (tapegradConfig.cmake, its version file, the exported tapegrad:: targets) and a pkg-config file.
# The vae program and its digits are installed by examples/vae/CMakeLists.txt.
include(CMakePackageConfigHelpers)

get_property(tg_libraries GLOBAL PROPERTY TG_LIBRARIES)
get_property(tg_folders GLOBAL PROPERTY TG_LIBRARY_FOLDERS)
install(TARGETS ${tg_libraries} tapegrad EXPORT tapegradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Every header of a library folder is public except the SIMD kernels' internals, which include xsimd
# directly or through another *_impl.hpp (compiled into libtapegrad_tensor.a, never needed by a
# consumer).
foreach(folder IN LISTS tg_folders)
  file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.hpp)
  set(public)
  foreach(h IN LISTS headers)
    file(STRINGS ${h} uses_xsimd REGEX "^#include (<xsimd/|\"tapegrad/tensor/[a-z_]+_impl\\.hpp\")")
    if(NOT uses_xsimd)
      list(APPEND public ${h})
    endif()
  endforeach()
  install(FILES ${public} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/${folder})
endforeach()

set(tg_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${tg_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
                              INSTALL_DESTINATION ${tg_cmake_dir})
# 0.x: a minor release may change the API and the ABI, so 0.1 is not asked to serve a 0.2 request
# (docs/using.md, "Versions").
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
        DESTINATION ${tg_cmake_dir})

# pkg-config: the prefix is found from the .pc file's own place, so an installed tree can move.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TG_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH up /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
  set(TG_PC_PREFIX "\${pcfiledir}/${up}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/tapegrad.pc.in ${PROJECT_BINARY_DIR}/tapegrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tapegrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
