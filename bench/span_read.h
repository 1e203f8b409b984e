// How fast the machine reads a list of memory spans (the rows a sparse kernel touches), with
// every pool thread summing its share of the list and fetching spans ahead in software, as
// the sparse kernels do. A reading of the memory system alone: ghostbench sparse divides by
// it to tell the kernel's cost from what skipping rows can save at all.
#ifndef GHOST_BENCH_SPAN_READ_H_
#define GHOST_BENCH_SPAN_READ_H_

#include <cstddef>
#include <vector>

namespace ghost::bench {

struct Span {
  const void* data;
  std::size_t bytes;
};

// Reads every byte of every span once (spans split into contiguous shares per thread).
void ReadSpans(const std::vector<Span>& spans);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_SPAN_READ_H_
