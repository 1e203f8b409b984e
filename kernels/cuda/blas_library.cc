#include "kernels/cuda/blas_library.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ghost::kernels::cuda::internal {
namespace {

std::atomic<const BlasLibrary*> opened{nullptr};

absl::StatusOr<BlasLibrary> Open() {
  // The toolkit's soname for CUDA 13; the loader's search path finds it (LD_LIBRARY_PATH,
  // /usr/local/cuda/lib64 through ld.so.conf).
  void* handle = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::UnavailableError(
        absl::StrCat("cannot open cuBLAS: ", error != nullptr ? error : "dlopen failed"));
  }
  BlasLibrary library;
  const auto find = [&](auto& slot, const char* name) -> absl::Status {
    void* symbol = dlsym(handle, name);
    if (symbol == nullptr) return absl::UnavailableError(absl::StrCat("cuBLAS lacks ", name));
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol);
    return absl::OkStatus();
  };
  for (absl::Status s :
       {find(library.create, "cublasCreate_v2"), find(library.destroy, "cublasDestroy_v2"),
        find(library.set_stream, "cublasSetStream_v2"),
        find(library.set_math_mode, "cublasSetMathMode"), find(library.gemm_ex, "cublasGemmEx"),
        find(library.status_name, "cublasGetStatusName"),
        find(library.status_string, "cublasGetStatusString")}) {
    if (!s.ok()) return s;
  }
  return library;  // the handle stays open for the process's life
}

}  // namespace

absl::StatusOr<const BlasLibrary*> Blas() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (const BlasLibrary* library = opened.load()) return library;
  absl::StatusOr<BlasLibrary> library = Open();
  if (!library.ok()) return library.status();
  const BlasLibrary* kept = new BlasLibrary(*library);  // lives as long as the process
  opened.store(kept);
  return kept;
}

const BlasLibrary* BlasIfOpen() { return opened.load(); }

}  // namespace ghost::kernels::cuda::internal
