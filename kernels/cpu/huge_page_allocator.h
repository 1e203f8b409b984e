// An allocator for large weight arrays: 2 MiB-aligned storage with transparent huge pages
// requested (madvise), so that streaming through gigabytes of weights does not also walk a
// 4 KiB page table. Small arrays use the default heap, 64-byte aligned.
#ifndef GHOST_KERNELS_CPU_HUGE_PAGE_ALLOCATOR_H_
#define GHOST_KERNELS_CPU_HUGE_PAGE_ALLOCATOR_H_

#include <cstddef>
#include <new>

namespace ghost::kernels {

void* AllocateHugePages(std::size_t bytes);
void FreeHugePages(void* p, std::size_t bytes);

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(AllocateHugePages(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) { FreeHugePages(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_HUGE_PAGE_ALLOCATOR_H_
