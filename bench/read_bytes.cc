// ReadBytes in three widths, chosen once from CPUID. Each wide variant is one function with
// its own target attribute rather than a file with its own ISA flags (as kernels/cpu does):
// it uses intrinsics only, no inline library code another file could be handed.
#include "bench/read_bytes.h"

#include <immintrin.h>

#include <cstring>

namespace ghost::bench {
namespace {

// Eight independent accumulators per width keep the loads, not the XORs, the limit. Each
// returns how many bytes it read (whole vectors of eight); the caller reads the rest.

std::size_t Read16(const std::uint8_t* p, std::size_t bytes, std::uint64_t* out) {
  __m128i acc[8];
  for (__m128i& a : acc) a = _mm_setzero_si128();
  std::size_t done = 0;
  for (; done + 128 <= bytes; done += 128) {
    for (int k = 0; k < 8; ++k) {
      acc[k] =
          _mm_xor_si128(acc[k], _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + done) + k));
    }
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm_xor_si128(acc[0], acc[k]);
  *out = static_cast<std::uint64_t>(_mm_cvtsi128_si64(acc[0]));
  return done;
}

__attribute__((target("avx2"))) std::size_t Read32(const std::uint8_t* p, std::size_t bytes,
                                                   std::uint64_t* out) {
  __m256i acc[8];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  std::size_t done = 0;
  for (; done + 256 <= bytes; done += 256) {
    for (int k = 0; k < 8; ++k) {
      acc[k] = _mm256_xor_si256(acc[k],
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + done) + k));
    }
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm256_xor_si256(acc[0], acc[k]);
  *out =
      static_cast<std::uint64_t>(_mm256_extract_epi64(acc[0], 0) ^ _mm256_extract_epi64(acc[0], 3));
  return done;
}

__attribute__((target("avx512f"))) std::size_t Read64(const std::uint8_t* p, std::size_t bytes,
                                                      std::uint64_t* out) {
  __m512i acc[8];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  std::size_t done = 0;
  for (; done + 512 <= bytes; done += 512) {
    for (int k = 0; k < 8; ++k)
      acc[k] = _mm512_xor_si512(acc[k], _mm512_loadu_si512(p + done + 64 * k));
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm512_xor_si512(acc[0], acc[k]);
  *out = static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm512_castsi512_si128(acc[0])));
  return done;
}

using ReadFn = std::size_t (*)(const std::uint8_t*, std::size_t, std::uint64_t*);

ReadFn WidestRead() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Read64;
  if (__builtin_cpu_supports("avx2")) return Read32;
  return Read16;
}

}  // namespace

std::uint64_t ReadBytes(const void* data, std::size_t bytes) {
  static const ReadFn read = WidestRead();
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint64_t result = 0;
  std::size_t done = read(p, bytes, &result);
  std::uint64_t tail = 0;
  done += Read16(p + done, bytes - done, &tail);  // Whole 128-byte runs the wide loop left.
  result ^= tail;
  for (; done + 8 <= bytes; done += 8) {
    std::uint64_t word;
    std::memcpy(&word, p + done, sizeof(word));
    result ^= word;
  }
  for (; done < bytes; ++done) result ^= p[done];
  return result;
}

}  // namespace ghost::bench
