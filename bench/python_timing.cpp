// attnscope_bench_timing: a Python module for bench/python_overhead.py only (not part of the
// package): the C++ path it compares the package with, Runner::run_with_hooks into an in-memory
// ActivationCache, timed in C++ with the GIL released.
//   import attnscope_bench_timing as t
//   seconds = t.time_cpp_cache("path/to/model", "weights", tokens)   # tokens: int [B, T]
#include "api/runner.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <map>
#include <memory>

namespace py = pybind11;
using namespace attnscope;

PYBIND11_MODULE(attnscope_bench_timing, m) {
    m.def("time_cpp_cache", [](const std::string& model, const std::string& capture,
                               py::array_t<int64_t, py::array::c_style | py::array::forcecast> tokens) {
        // one Runner per model, kept: the first call maps the weights, later calls time the run only
        static std::map<std::string, std::unique_ptr<Runner>> runners;
        auto& r = runners[model + "|" + capture];
        if (!r) {
            RunnerOptions o;
            o.capture = capture;
            r = std::make_unique<Runner>(model, o);
        }
        if (tokens.ndim() != 2) throw py::value_error("tokens: expected [B, T]");
        std::vector<std::vector<int32_t>> seqs(size_t(tokens.shape(0)));
        for (py::ssize_t b = 0; b < tokens.shape(0); ++b)
            for (py::ssize_t t = 0; t < tokens.shape(1); ++t)
                seqs[size_t(b)].push_back(int32_t(tokens.at(b, t)));
        const PreparedData d = r->prepare_sequences(std::move(seqs)); // as the package prepares them
        py::gil_scoped_release nogil;
        const auto t0 = std::chrono::steady_clock::now();
        const ActivationCache c = r->run_with_hooks(d);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
}
