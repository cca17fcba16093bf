// The Python extension module attnscope._attnscope: pybind11 bindings over the public C++ API
// (api/, capture/, engine/), which the pure-Python layer (attnscope/__init__.py) dresses in the
// original module's names and TransformerLens' idioms. Three rules hold throughout: the GIL is
// released while the engine runs (hooks take it back only to call Python); tensors reach numpy
// without a copy where they already exist (captures: views of the memory-mapped files; hooks:
// views of the engine's own buffers, writable), and once where they must be kept (a cache is
// written straight into the numpy arrays it returns); every attnscope::Error becomes
// attnscope.Error (a ValueError) carrying the engine's one-line message.
#include "api/analyzer_api.h"
#include "api/runner.h"
#include "core/error.h"
#include "core/threads.h"
#include "engine/forward.h"
#include "engine/gemm.h"
#include "engine/hooks.h"
#include "engine/kernels.h"
#include "report/report.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>

namespace py = pybind11;
using namespace attnscope;

namespace {

// A numpy array over a TensorView's memory (strided, writable), valid while `owner` lives.
py::array view_of(const TensorView& v, py::handle owner) {
    std::vector<py::ssize_t> shape, strides;
    for (int k = 0; k < v.n_dim; ++k) {
        shape.push_back(py::ssize_t(v.ne[k]));
        strides.push_back(py::ssize_t(v.stride[k] * int64_t(sizeof(float))));
    }
    return py::array(py::dtype::of<float>(), shape, strides, v.data, owner);
}

// A JSON document as Python objects (dict, list, ...), through Python's json module.
py::object to_python(const nlohmann::json& j) {
    return py::module_::import("json").attr("loads")(j.dump());
}

// Token ids from Python: a list of lists, or a 1-D / 2-D integer numpy array; checked here so
// that a wrong dtype or shape is a clear error, never a crash.
std::vector<std::vector<int32_t>> sequences_of(py::handle tokens, const char* what) {
    std::vector<std::vector<int32_t>> out;
    if (py::isinstance<py::array>(tokens)) {
        py::array a = py::reinterpret_borrow<py::array>(tokens);
        if (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')
            throw Error(cat(what, ": expected an integer array, found dtype ", std::string(py::str(a.dtype()))),
                        "token ids are int32 or int64");
        if (a.ndim() != 1 && a.ndim() != 2)
            throw Error(cat(what, ": expected shape [T] or [B, T], found ", a.ndim(), " dimensions"));
        py::array_t<int64_t, py::array::c_style | py::array::forcecast> ids(a);
        const int64_t B = a.ndim() == 2 ? int64_t(a.shape(0)) : 1, T = int64_t(a.shape(a.ndim() - 1));
        for (int64_t b = 0; b < B; ++b) {
            std::vector<int32_t> s;
            for (int64_t t = 0; t < T; ++t) {
                const int64_t id = ids.data()[b * T + t];
                if (id < 0 || id > INT32_MAX) throw Error(cat(what, "[", b, "][", t, "] = ", id, ": not a token id"));
                s.push_back(int32_t(id));
            }
            out.push_back(std::move(s));
        }
        return out;
    }
    for (py::handle row : tokens) {
        std::vector<int32_t> s;
        for (py::handle id : row)
            s.push_back(py::cast<int32_t>(id));
        out.push_back(std::move(s));
    }
    return out;
}

// A forward pass from Python: the hook names and the Python callables that want them.
struct PyHook {
    std::string name;      // full hook name
    py::object fn;         // fn(value, hook) -> None or a replacement
};

} // namespace

PYBIND11_MODULE(_attnscope, m) {
    m.doc() = "attnscope's native engine (use the attnscope package, not this module)";
    static py::exception<Error> error(m, "Error", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            error(e.what());
        }
    });

    m.def("set_threads", &set_num_threads, "Threads for matrix products and attention (0: all cores).");
    m.def(
        "log_sum_exp",
        [](py::array_t<float, py::array::c_style | py::array::forcecast> x) {
            if (x.ndim() != 1 || x.shape(0) == 0) throw Error("log_sum_exp: expected a non-empty 1-D array");
            return log_sum_exp(x.data(), int64_t(x.shape(0)));
        },
        "The engine's log(sum(exp(x))) (float exp, double sum), as the ablation loss computes it.");
    m.def("kernels", &gemm_variant, "The matrix-product micro-kernel of this build (avx512, avx2 or scalar).");

    py::class_<PreparedData>(m, "PreparedData")
        .def_readonly("texts", &PreparedData::texts)
        .def_readonly("max_length", &PreparedData::max_length)
        .def_readonly("n_truncated", &PreparedData::n_truncated)
        .def_property_readonly("tokens", [](const PreparedData& d) { return d.batch.tokens; });

    py::class_<Runner, std::shared_ptr<Runner>>(m, "Runner")
        .def(py::init([](const std::string& model, const std::string& capture, const std::string& layers,
                         const std::string& heads, int batch_size, bool force, bool weights_f32,
                         std::optional<py::function> on_progress) {
                 RunnerOptions o;
                 o.capture = capture, o.layers = layers, o.heads = heads;
                 o.batch_size = batch_size, o.force = force, o.weights_f32 = weights_f32;
                 if (on_progress) {
                     py::function f = *on_progress;
                     o.on_progress = [f](const Progress& p) {
                         py::gil_scoped_acquire gil;
                         f(p.texts_done, p.texts_total, p.tokens_done, p.tokens_total, p.seconds);
                     };
                 }
                 py::gil_scoped_release nogil;
                 return std::make_shared<Runner>(model, o);
             }),
             py::arg("model"), py::arg("capture") = "", py::arg("layers") = "", py::arg("heads") = "",
             py::arg("batch_size") = 8, py::arg("force") = false, py::arg("weights_f32") = false,
             py::arg("on_progress") = py::none())
        .def_property_readonly("model_path", [](const Runner& r) { return r.resolved().path; })
        .def_property_readonly("model_name", [](const Runner& r) { return r.resolved().name; })
        .def_property_readonly("config", [](const Runner& r) {
            const ModelConfig& c = r.model().config();
            py::dict d;
            d["model_type"] = c.model_type, d["n_layer"] = c.n_layer, d["n_head"] = c.n_head;
            d["n_kv_head"] = c.n_kv_head, d["d_head"] = c.d_head, d["n_embd"] = c.n_embd;
            d["n_inner"] = c.n_inner, d["vocab_size"] = c.vocab_size, d["n_positions"] = c.n_positions;
            d["activation"] = activation_name(c.layer(0).activation);
            d["parallel"] = c.layer(0).parallel;
            d["rotary_dim"] = c.positions == PositionKind::rotary ? c.layer(0).rotary_dim : 0;
            d["norm"] = c.norm == NormKind::rms_norm ? "rms_norm" : "layer_norm";
            d["positions"] = c.positions == PositionKind::rotary ? "rotary" : "learned";
            return d;
        })
        .def("hook_names", [](const Runner& r) { return all_hook_names(r.model().config()); })
        .def("prepare_data",
             [](const Runner& r, std::vector<std::string> texts, int64_t max_length) {
                 py::gil_scoped_release nogil;
                 return r.prepare_data(std::move(texts), max_length);
             },
             py::arg("texts"), py::arg("max_length") = 0)
        .def("prepare_tokens",
             [](const Runner& r, py::handle tokens) { return r.prepare_sequences(sequences_of(tokens, "input_ids")); },
             py::arg("tokens"))
        .def("encode",
             [](const Runner& r, const std::string& text, bool add_special_tokens) {
                 return r.tokenizer().encode(text, {.add_special_tokens = add_special_tokens});
             },
             py::arg("text"), py::arg("add_special_tokens") = true)
        .def("decode", [](const Runner& r, const std::vector<int32_t>& ids) { return r.tokenizer().decode(ids); })
        .def("display", [](const Runner& r, const std::vector<int32_t>& ids) { return r.tokenizer().display(ids); })
        .def("run_to_dir",
             [](const Runner& r, const PreparedData& d, const std::string& dir) {
                 CaptureSummary s;
                 {
                     py::gil_scoped_release nogil;
                     s = r.run_with_hooks(d, dir);
                 }
                 py::dict out;
                 out["dir"] = s.dir, out["n_sequences"] = s.n_sequences, out["n_tokens"] = s.n_tokens;
                 out["n_tensors"] = s.n_tensors, out["bytes"] = s.bytes, out["seconds"] = s.seconds;
                 return out;
             })
        // run --stats-only [--shard I/N] [--covariance] [--loss]: the summary as a dict; statistics.safetensors,
        // the report and the summary written into dir
        .def("run_stats_to_dir",
             [](const Runner& r, PreparedData d, const std::string& dir, const std::string& shard, bool covariance,
                bool loss) {
                 // shard: "I/N" (parsed in capture/, as for the CLI), or "" for all the texts
                 if (!shard.empty()) d = take_shard(std::move(d), shard);
                 AnalysisResult a;
                 {
                     py::gil_scoped_release nogil;
                     a = r.run_stats_only(d, dir, covariance, loss);
                 }
                 return to_python(summary_json(a));
             },
             py::arg("data"), py::arg("dir"), py::arg("shard") = "", py::arg("covariance") = false,
             py::arg("loss") = false)
        .def("analyze_summary",
             [](const Runner& r, const std::string& dir) {
                 AnalysisResult a;
                 {
                     py::gil_scoped_release nogil;
                     a = r.analyze_attention_patterns(dir);
                 }
                 return to_python(summary_json(a));
             })
        // Interventions (intervene/): head_importance.json's and patching.json's content as dicts.
        .def("ablate",
             [](const Runner& r, std::vector<std::string> texts, const std::string& heads, const std::string& method,
                int64_t max_length) {
                 AblateOptions o;
                 o.targets = parse_ablation_targets(heads, r.model().config());
                 o.method = parse_ablation_method(method);
                 HeadImportance hi;
                 {
                     py::gil_scoped_release nogil;
                     hi = r.ablate(r.prepare_data(std::move(texts), max_length), o);
                 }
                 return to_python(head_importance_json(hi));
             },
             py::arg("texts"), py::arg("heads") = "all", py::arg("method") = "zero", py::arg("max_length") = 0)
        .def("patch",
             [](const Runner& r, const std::string& clean, const std::string& corrupt, const std::string& answer,
                const std::string& wrong, const std::string& what) {
                 PatchResult res;
                 {
                     py::gil_scoped_release nogil;
                     res = r.patch(clean, corrupt, answer, wrong, parse_patch_what(what));
                 }
                 return to_python(patch_json(res, r.tokenizer().display(r.tokenizer().encode(corrupt))));
             },
             py::arg("clean"), py::arg("corrupt"), py::arg("answer") = "", py::arg("wrong") = "", py::arg("what") = "z")
        // The C++ path for benchmarks (bench/python_overhead.py): the same tokens captured into
        // memory by Runner::run_with_hooks (the hooks of this runner's `capture`), timed in C++.
        .def("capture_tokens",
             [](const Runner& r, py::handle tokens, const std::string& dir) {
                 const PreparedData d = r.prepare_sequences(sequences_of(tokens, "tokens"));
                 py::gil_scoped_release nogil;
                 r.run_with_hooks(d, dir);
             })
        // One forward pass over equal-length or ragged sequences. `cache`: hook names whose
        // values are copied into new numpy arrays, per sequence ([seq] -> {name: array});
        // `hooks`: (name, fn) pairs called with a writable view of the engine's value (shape of
        // one sequence) and a HookPoint; a returned array replaces the value (same shape).
        // Returns (logits per sequence or None, cache).
        .def("forward",
             [](const Runner& r, py::handle tokens, const std::vector<std::string>& cache_names,
                const std::vector<std::pair<std::string, py::object>>& hooks, bool want_logits, py::object hook_point) {
                 const Batch batch = Batch::from_sequences(sequences_of(tokens, "tokens"));
                 const Model& model = r.model();
                 HookSet set;
                 std::vector<std::map<std::string, py::array>> cache(size_t(batch.n_seq()));
                 std::exception_ptr failure;
                 if (!cache_names.empty()) {
                     std::string globs;
                     for (const auto& n : cache_names)
                         globs += (globs.empty() ? "" : ",") + n;
                     set.add(
                         HookFilter::parse(globs, "", ""),
                         [&](const HookContext& ctx, TensorView v) {
                             py::gil_scoped_acquire gil;
                             std::vector<py::ssize_t> shape(v.ne, v.ne + v.n_dim);
                             py::array_t<float> a(shape);
                             v.copy_to(a.mutable_data());
                             cache[size_t(ctx.seq)][ctx.name] = a;
                         },
                         HookAccess::read_only);
                 }
                 for (const auto& [name, fn] : hooks)
                     set.add(HookFilter::parse(name, "", ""), [&, name = name, fn = fn](const HookContext& ctx, TensorView v) {
                         if (failure) return;
                         py::gil_scoped_acquire gil;
                         try {
                             py::object hp = hook_point(ctx.name, ctx.layer, ctx.seq);
                             py::array view = view_of(v, py::none());
                             py::object ret = fn(view, hp);
                             if (ret.is_none()) return;
                             py::array_t<float, py::array::forcecast> rep(ret);
                             if (rep.ndim() != v.n_dim)
                                 throw Error(cat("hook ", ctx.name, ": the function returned ", rep.ndim(),
                                                 " dimensions, the value has ", v.n_dim),
                                             "return an array of the value's shape, or change the value in place and return None");
                             for (int k = 0; k < v.n_dim; ++k)
                                 if (rep.shape(k) != v.ne[k])
                                     throw Error(cat("hook ", ctx.name, ": the function returned shape ",
                                                     std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(
                                                         rep.shape(), rep.shape() + rep.ndim()))))),
                                                     ", the value's is ", std::string(py::str(py::tuple(py::cast(v.shape()))))),
                                                 "return an array of the value's shape");
                             py::array_t<float, py::array::c_style | py::array::forcecast> c(rep);
                             v.copy_from(c.data()); // logical row-major order into the (strided) view
                         } catch (...) {
                             failure = std::current_exception();
                         }
                     });
                 RunState state;
                 ForwardOptions fo;
                 fo.logits = want_logits;
                 {
                     py::gil_scoped_release nogil;
                     forward(model, batch, set, state, fo);
                 }
                 if (failure) std::rethrow_exception(failure);
                 py::list logits, caches;
                 for (int64_t s = 0; s < batch.n_seq(); ++s) {
                     if (want_logits) {
                         const TensorView lg = state.logits_of(batch, s, model.config().vocab_size);
                         py::array_t<float> a({py::ssize_t(lg.ne[0]), py::ssize_t(lg.ne[1])});
                         lg.copy_to(a.mutable_data());
                         logits.append(a);
                     }
                     py::dict d;
                     for (auto& [k, v] : cache[size_t(s)])
                         d[py::str(k)] = v;
                     caches.append(d);
                 }
                 return py::make_tuple(want_logits ? py::object(logits) : py::object(py::none()), caches);
             },
             py::arg("tokens"), py::arg("cache") = std::vector<std::string>{},
             py::arg("hooks") = std::vector<std::pair<std::string, py::object>>{}, py::arg("logits") = true,
             py::arg("hook_point") = py::none());

    // A capture directory, read without copies: tensors are numpy views of the mapped files.
    py::class_<CaptureReader, std::shared_ptr<CaptureReader>>(m, "CaptureReader")
        .def(py::init([](const std::string& dir) { return std::make_shared<CaptureReader>(dir); }))
        .def_property_readonly("dir", &CaptureReader::dir)
        .def_property_readonly("manifest", [](const CaptureReader& r) { return to_python(r.manifest()); })
        .def_property_readonly("n_sequences", &CaptureReader::n_sequences)
        .def("hooks", &CaptureReader::hooks)
        .def("has", &CaptureReader::has)
        .def("token_ids", [](const CaptureReader& r, int64_t s) { return r.sequence(s).token_ids; })
        .def("text", [](const CaptureReader& r, int64_t s) { return r.sequence(s).text; })
        // F32 tensors: a read-only view of the mapping that keeps the reader alive; F16: widened.
        .def("tensor", [](std::shared_ptr<CaptureReader> r, int64_t seq, const std::string& hook) {
            auto storage = std::make_shared<std::vector<float>>();
            const CaptureReader::View v = r->view(seq, hook, *storage);
            std::vector<py::ssize_t> shape(v.shape.begin(), v.shape.end()), strides(v.shape.size());
            py::ssize_t st = sizeof(float);
            for (size_t k = v.shape.size(); k-- > 0;)
                strides[k] = st, st *= py::ssize_t(v.shape[k]);
            // the owner keeps the reader (its mapping) and any widened copy alive
            struct Keep {
                std::shared_ptr<CaptureReader> reader;
                std::shared_ptr<std::vector<float>> storage;
            };
            py::capsule owner(new Keep{r, storage}, [](void* p) { delete static_cast<Keep*>(p); });
            py::array a(py::dtype::of<float>(), shape, strides, v.data, owner);
            py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return a;
        });

    py::class_<AttentionDataAnalyzer, std::shared_ptr<AttentionDataAnalyzer>>(m, "AttentionDataAnalyzer")
        .def(py::init([](const std::vector<std::string>& dirs) { return std::make_shared<AttentionDataAnalyzer>(dirs); }))
        .def("summary",
             [](AttentionDataAnalyzer& a) {
                 const AnalysisResult* r = nullptr;
                 {
                     py::gil_scoped_release nogil;
                     r = &a.analyze();
                 }
                 return to_python(summary_json(*r));
             })
        .def("report_text",
             [](AttentionDataAnalyzer& a) {
                 py::gil_scoped_release nogil;
                 return report_text(a.analyze());
             })
        .def("create_comprehensive_report",
             [](AttentionDataAnalyzer& a, const std::string& out) {
                 py::gil_scoped_release nogil;
                 return a.create_comprehensive_report(out);
             },
             py::arg("out_dir") = "")
        .def("visualize_attention_flow",
             [](AttentionDataAnalyzer& a, const std::string& out) {
                 py::gil_scoped_release nogil;
                 return a.visualize_attention_flow(out);
             },
             py::arg("out_dir") = "")
        .def("visualize_attention_weights",
             [](AttentionDataAnalyzer& a, int layer, int head, int64_t seq, const std::string& out) {
                 py::gil_scoped_release nogil;
                 return a.visualize_attention_weights(layer, head, seq, out);
             },
             py::arg("layer_idx"), py::arg("head_idx"), py::arg("seq") = 0, py::arg("out_dir") = "")
        .def("visualize_dashboard",
             [](AttentionDataAnalyzer& a, const std::string& out) {
                 py::gil_scoped_release nogil;
                 return a.visualize_dashboard(out);
             },
             py::arg("out_dir") = "")
        .def("create_viewer",
             [](AttentionDataAnalyzer& a, const std::string& out, int n, double mb) {
                 py::gil_scoped_release nogil;
                 return a.create_viewer(out, n, mb);
             },
             py::arg("out_dir") = "", py::arg("max_sequences") = 8, py::arg("max_mb") = 64.0);
}
