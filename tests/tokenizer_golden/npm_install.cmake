# Installs the pinned reference tokenizers (package-lock.json beside this file) into GOLDEN_DIR
# with `npm ci`, unless that exact lock file is installed there already. Run by the ctest fixture
# tokenizer_golden_npm:
#   cmake -DSOURCE_DIR=<this directory> -DGOLDEN_DIR=<build>/tokenizer_golden -DNPM=<npm> -P <this>
file(SHA256 "${SOURCE_DIR}/package-lock.json" wanted)
if(EXISTS "${GOLDEN_DIR}/node_modules/.package-lock.json" AND
   EXISTS "${GOLDEN_DIR}/package-lock.json")
  file(SHA256 "${GOLDEN_DIR}/package-lock.json" installed)
  if(installed STREQUAL wanted)
    message(STATUS "tokenizer golden: reference packages already installed in ${GOLDEN_DIR}")
    return()
  endif()
endif()
file(MAKE_DIRECTORY "${GOLDEN_DIR}")
file(COPY "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json"
     DESTINATION "${GOLDEN_DIR}")
execute_process(COMMAND "${NPM}" ci --no-audit --no-fund
                WORKING_DIRECTORY "${GOLDEN_DIR}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "tokenizer golden: npm ci failed (${status}) in ${GOLDEN_DIR}")
endif()
