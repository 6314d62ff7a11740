// Google Benchmark micro-benchmarks of the kernels, through the public C API
// only: one loss+gradient pass (nr_loss_grad) and the streaming read it is
// compared with (nr_data_sum), per kernel, dtype, width and thread count.
// Bytes processed are reported, so the output reads directly as GB/s.
//
//   build/neuron-micro --benchmark_filter=grad --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" {
#include "neuron.h"
}

namespace {

struct Data {
    std::vector<float> f32;
    std::vector<double> f64;
    size_t rows, features;
};

// One generated data set per shape, kept for the whole run.
const Data &data(size_t rows, size_t features) {
    static std::vector<Data *> cache;
    for (Data *d : cache)
        if (d->rows == rows && d->features == features) return *d;
    Data *d = new Data{{}, {}, rows, features};
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = features, o.dtype = NR_F64;
    d->f64.resize(rows * (features + 1));
    if (nr_gen_fill(&o, d->f64.data(), nullptr) != NR_OK) std::abort();
    d->f32.assign(d->f64.begin(), d->f64.end());
    cache.push_back(d);
    return *d;
}

nr_data view(const Data &d, bool f32) {
    nr_data v;
    v.rows = d.rows, v.features = d.features;
    v.dtype = f32 ? NR_F32 : NR_F64;
    v.values = f32 ? static_cast<const void *>(d.f32.data()) : d.f64.data();
    return v;
}

// args: rows, features, f32?, kernel (1 scalar, 2 avx2), threads. `pass`
// runs one pass over the view; the loop reports bytes and rows per second.
template <typename Pass> void run(benchmark::State &st, Pass pass) {
    const Data &d = data(st.range(0), st.range(1));
    const bool f32 = st.range(2);
    const auto k = static_cast<nr_kernel_choice>(st.range(3));
    if (!nr_kernel_name(k, nullptr)) {
        st.SkipWithError("kernel not supported by this CPU");
        return;
    }
    nr_data v = view(d, f32);
    const int threads = static_cast<int>(st.range(4));
    for (auto _ : st) benchmark::DoNotOptimize(pass(v, k, threads));
    const size_t bytes = d.rows * (d.features + 1) * (f32 ? 4 : 8);
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
    st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * d.rows));
}

void BM_grad(benchmark::State &st) {
    std::vector<double> w(st.range(1), 0.5), g(st.range(1) + 1);
    run(st, [&](const nr_data &v, nr_kernel_choice k, int t) {
        double loss = 0;
        nr_loss_grad(&v, w.data(), 0.1, k, t, &loss, g.data(), nullptr);
        return loss;
    });
}

void BM_stream(benchmark::State &st) {
    run(st, [](const nr_data &v, nr_kernel_choice k, int t) {
        double sum = 0;
        nr_data_sum(&v, k, t, &sum, nullptr);
        return sum;
    });
}

void shapes(benchmark::internal::Benchmark *b) {
    b->ArgNames({"rows", "d", "f32", "kernel", "threads"});
    for (int64_t d : {1, 16})
        for (int64_t f32 : {1, 0})
            for (int64_t k : {1, 2})
                for (int64_t t : {1, 2}) b->Args({d == 1 ? 10000000 : 2000000, d, f32, k, t});
}

} // namespace

BENCHMARK(BM_grad)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_stream)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
