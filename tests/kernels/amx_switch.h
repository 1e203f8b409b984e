// Restores the process-wide AMX switch (kernels/cpu/matmul.h) when a test scope ends, also on a
// failed assertion, so that a test turning AMX off leaves it as it found it.
#ifndef GHOST_TESTS_KERNELS_AMX_SWITCH_H_
#define GHOST_TESTS_KERNELS_AMX_SWITCH_H_

#include "kernels/cpu/matmul.h"

namespace ghost::kernels::testing {

class AmxSwitch {
 public:
  AmxSwitch() : was_(AmxEnabled()) {}
  ~AmxSwitch() { SetAmxEnabled(was_); }
  AmxSwitch(const AmxSwitch&) = delete;
  AmxSwitch& operator=(const AmxSwitch&) = delete;

 private:
  bool was_;
};

}  // namespace ghost::kernels::testing

#endif  // GHOST_TESTS_KERNELS_AMX_SWITCH_H_
