#include "engine/backend/kv_dtype.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ghost {

const char* KvDtypeName(KvDtype dtype) { return dtype == KvDtype::kBf16 ? "bf16" : "fp32"; }

absl::StatusOr<KvDtype> ParseKvDtype(absl::string_view name) {
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kBf16}) {
    if (name == KvDtypeName(dtype)) return dtype;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("KV cache dtype must be fp32 or bf16, got \"", name, "\""));
}

}  // namespace ghost
