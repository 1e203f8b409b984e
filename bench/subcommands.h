// ghostbench subcommands: each takes the arguments after its name and returns an exit code.
#ifndef GHOST_BENCH_SUBCOMMANDS_H_
#define GHOST_BENCH_SUBCOMMANDS_H_

namespace ghost::bench {

int RunAttention(int argc, char** argv);
int RunBatch(int argc, char** argv);
int RunCompress(int argc, char** argv);
int RunDecode(int argc, char** argv);
int RunEval(int argc, char** argv);
int RunGpu(int argc, char** argv);
int RunKernels(int argc, char** argv);
int RunQuality(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunSparse(int argc, char** argv);
int RunStream(int argc, char** argv);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_SUBCOMMANDS_H_
