// The devices a model can run on. Each has a Backend (backend.h); NewBackend says which ones
// this build implements.
#ifndef GHOST_ENGINE_BACKEND_DEVICE_H_
#define GHOST_ENGINE_BACKEND_DEVICE_H_

namespace ghost {

enum class Device { kCpu, kCuda };

// "cpu" or "cuda".
const char* DeviceName(Device device);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_DEVICE_H_
