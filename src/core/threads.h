// The thread pool: OpenMP's, for every parallel loop and matrix product (and shared with OpenBLAS
// where the benchmarks link its OpenMP build), so the program has one pool.
//
//   set_num_threads(opts.threads);   // 0 = all cores
//   int n = num_threads();
#pragma once

namespace attnscope {

// Number of threads used by parallel loops and matrix products; 0 selects all cores.
void set_num_threads(int n);
int num_threads();
int hardware_threads();

} // namespace attnscope
