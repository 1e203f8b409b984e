// A large, page-aligned scratch buffer backed by transparent huge pages where the kernel
// allows it. On VMs, first-touch page faults of 4 KiB pages can cost seconds per GiB, and
// 4 KiB TLB misses lower the bandwidth being measured; benchmarks therefore allocate one
// such buffer and reuse it.
#ifndef GHOST_BENCH_HUGE_BUFFER_H_
#define GHOST_BENCH_HUGE_BUFFER_H_

#include <cstddef>

namespace ghost::bench {

class HugeBuffer {
 public:
  explicit HugeBuffer(std::size_t bytes);
  ~HugeBuffer();
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void* data_;
  std::size_t size_;
};

}  // namespace ghost::bench

#endif  // GHOST_BENCH_HUGE_BUFFER_H_
