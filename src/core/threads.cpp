// Thread count control. OpenMP's pool is used for our loops and, because we link the OpenMP
// build of OpenBLAS, for matrix products as well: setting it here sets both.
#include "core/threads.h"

#include <omp.h>
#include <thread>

namespace attnscope {

int hardware_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n ? int(n) : 1;
}

void set_num_threads(int n) {
    omp_set_num_threads(n > 0 ? n : hardware_threads());
}

int num_threads() {
    return omp_get_max_threads();
}

} // namespace attnscope
