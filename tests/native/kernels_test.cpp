// Tests for core/kernels: every GEMM microkernel and its __scalar twin, the packing and accessors,
// the gemm()/gemm_cols() driver, the f16 decoders and topk. Compiled natively (lmdbg_tests) and,
// unchanged, for wasm under node (tests/native/kernels_wasm.cmake).
//
// Reference: a naive loop in double over the weights as stored (f16 storage: the source rounded
// to f16). Tolerance for an output with K terms:
//     tol = max(1e-5, 1e-6 * S) * sqrt(K),   S = |bias| + sum_k |a_k * w_k|
// f32 summation of K terms has a worst-case error of about K * 2^-24 * S and a typical
// (random-walk) one of sqrt(K) * 2^-24 * S; 1e-6 ~ 17 * 2^-24 covers the typical case with a
// wide margin and the worst case for K up to ~300. S replaces |ref| of the usual
// max(1e-5, |ref| * 1e-6) because outputs can cancel to ~0 while the terms are large.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/kernels/attention_kernels.h"
#include "core/kernels/fp16.h"
#include "core/kernels/gemm.h"
#include "core/kernels/q8.h"
#include "core/kernels/simd.h"
#include "core/kernels/topk.h"
#include "core/kernels/ukernels.h"

namespace lmdbg::kernels {
namespace {

constexpr float kCanary = -12345.5f;

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

const char* dtype_name(DType d) {
  return d == DType::kF32 ? "f32" : d == DType::kF16 ? "f16" : d == DType::kBF16 ? "bf16" : "q8";
}
const char* storage_name(Storage s) { return s == Storage::kF32 ? "f32" : "f16"; }

// A source matrix [K,N] (or [N,K] if transposed) in every dtype, with the logical W[k][n] as float.
struct Source {
  int K, N;
  bool transposed;
  DType dtype;
  std::vector<float> f32;     // storage for kF32
  std::vector<uint16_t> u16;  // storage for kF16 / kBF16
  SrcMatrix src() const {
    const void* p = dtype == DType::kF32 ? static_cast<const void*>(f32.data()) : u16.data();
    return transposed ? SrcMatrix{p, dtype, N, K, true} : SrcMatrix{p, dtype, K, N, false};
  }
  size_t index(int k, int n) const { return transposed ? static_cast<size_t>(n) * K + k : static_cast<size_t>(k) * N + n; }
  float value(int k, int n) const {
    const size_t i = index(k, n);
    switch (dtype) {
      case DType::kF32: return f32[i];
      case DType::kF16: return f16_to_f32(u16[i]);
      case DType::kBF16: return bf16_to_f32(u16[i]);
      case DType::kQ8: break;  // q8 sources are built by the Q8 tests themselves
    }
    return 0.f;
  }
};

uint16_t f32_to_bf16(float f) {  // truncation is fine for test data
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return static_cast<uint16_t>(b >> 16);
}

Source make_source(int K, int N, DType dtype, bool transposed, uint32_t seed, float scale = 1.f) {
  Source s{K, N, transposed, dtype, {}, {}};
  std::vector<float> v = random_floats(static_cast<size_t>(K) * N, seed, -scale, scale);
  if (dtype == DType::kF32) {
    s.f32 = v;
  } else {
    s.u16.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) s.u16[i] = dtype == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
    if (dtype == DType::kF16 && !s.u16.empty()) {
      // f16 specials that must survive packing and decoding exactly: subnormals, zeros, extremes.
      const uint16_t specials[] = {0x0001, 0x03ff, 0x0200, 0x8001, 0x83ff, 0x0400, 0x8400,
                                   0x7bff, 0xfbff, 0x0000, 0x8000, 0x3c00, 0x0155};
      for (size_t i = 0; i < std::size(specials) && i * 7 < s.u16.size(); ++i) s.u16[i * 7] = specials[i];
    }
  }
  return s;
}

// The weight as the packed matrix holds it.
float stored(const Source& s, Storage st, int k, int n) {
  const float v = s.value(k, n);
  return st == Storage::kF32 ? v : f16_to_f32(f32_to_f16(v));
}

struct Ref {
  double value, tol;
};

template <class WeightFn>
Ref reference_fn(const float* a, int K, WeightFn weight, const float* bias, int n) {
  double acc = bias ? bias[n] : 0.0, mag = bias ? std::fabs(bias[n]) : 0.0;
  for (int k = 0; k < K; ++k) {
    const double t = static_cast<double>(a[k]) * weight(k, n);
    acc += t;
    mag += std::fabs(t);
  }
  return {acc, std::max(1e-5, 1e-6 * mag) * std::sqrt(static_cast<double>(std::max(K, 1)))};
}

Ref reference(const float* a, int K, const Source& s, Storage st, const float* bias, int n) {
  return reference_fn(a, K, [&](int k, int j) { return stored(s, st, k, j); }, bias, n);
}

::testing::AssertionResult close(float got, Ref r) {
  if (std::isnan(r.value) ? std::isnan(got) : (std::isinf(r.value) ? got == r.value : std::fabs(got - r.value) <= r.tol))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", expected " << r.value << " +- " << r.tol
                                       << " (diff " << std::fabs(got - r.value) << ")";
}

// ---------------------------------------------------------------- fp16 conversions and decoders

TEST(Fp16, ScalarRoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(f32_to_f16(f), h) << "h = " << h;
    // The kernels' scaled decode: bits == f * 2^-112 exactly, subnormals included.
    ASSERT_EQ(simd::f16_scaled_decode(static_cast<uint16_t>(h)) * simd::kF16Scale, f) << "h = " << h;
  }
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.f);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);     // rounds to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0);      // tie to even: 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);  // above the tie
}

// Every f16w_decode kernel: decodes every finite half exactly (subnormals included), in column
// order. The panel is built by hand: PackedMatrix moves subnormals to its side list.
TEST(Fp16, DecodeKernelsExactForAllHalves) {
  constexpr int NR = PackedMatrix::NR, G = simd::kF16Group;
  std::vector<uint16_t> halves;
  for (uint32_t h = 0; h < 0x10000; ++h)
    if ((h & 0x7c00) != 0x7c00) halves.push_back(static_cast<uint16_t>(h));
  while (halves.size() % NR) halves.push_back(0x3c00);
  const int K = static_cast<int>(halves.size() / NR);
  std::vector<uint16_t> panel(halves.size());
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < NR; ++j) panel[k * NR + (j / G) * G + simd::f16_group_pos(j % G)] = halves[k * NR + j];
  std::vector<float> bias(NR);
  for (int j = 0; j < NR; ++j) bias[j] = 0.25f * j - 1.f;
  std::vector<float> out((static_cast<size_t>(K) + 1) * NR);
  for (const auto& uk : f16w_decode_ukernels()) {
    std::fill(out.begin(), out.end(), kCanary);
    uk.fn(NR, K, panel.data(), bias.data(), out.data());
    for (int j = 0; j < NR; ++j) ASSERT_EQ(out[j], bias[j]) << uk.name << " bias " << j;
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < NR; ++j) {
        const float got = out[(k + 1) * NR + j], want = f16_to_f32(halves[static_cast<size_t>(k) * NR + j]);
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << uk.name << " at k=" << k << " n=" << j << " half=0x" << std::hex
                                                  << halves[k * NR + j] << ": got " << got << ", want " << want;
      }
  }
}

// ---------------------------------------------------------------- packing and accessors

struct PackCase {
  DType dtype;
  bool transposed;
  Storage storage;
};

class PackTest : public ::testing::TestWithParam<PackCase> {};

TEST_P(PackTest, AccessorsMatchSource) {
  const PackCase pc = GetParam();
  for (auto [K, N] : {std::pair{1, 1}, {3, 5}, {17, 8}, {9, 33}, {64, 16}, {5, 100}}) {
    const Source s = make_source(K, N, pc.dtype, pc.transposed, 1000 + K * N);
    const std::vector<float> bias = random_floats(N, 7 + N);
    const PackedMatrix W = PackedMatrix::pack(s.src(), bias.data(), pc.storage);
    ASSERT_EQ(W.K(), K);
    ASSERT_EQ(W.N(), N);
    ASSERT_EQ(W.storage(), pc.storage);
    EXPECT_EQ(W.bytes(), PackedMatrix::packed_bytes(K, N, pc.storage) +
                             W.f16_subnormals().size() * sizeof(PackedMatrix::Subnormal));
    std::vector<float> rowbuf(N), colbuf(K);
    for (int k = 0; k < K; ++k) {
      W.row(k, rowbuf.data());
      for (int n = 0; n < N; ++n) {
        const float want = stored(s, pc.storage, k, n);
        ASSERT_EQ(W.at(k, n), want) << "at(" << k << "," << n << ") K=" << K << " N=" << N;
        ASSERT_EQ(rowbuf[n], want) << "row(" << k << ")[" << n << "]";
      }
    }
    for (int n = 0; n < N; ++n) {
      W.col(n, colbuf.data());
      for (int k = 0; k < K; ++k) ASSERT_EQ(colbuf[k], stored(s, pc.storage, k, n)) << "col(" << n << ")[" << k << "]";
      ASSERT_EQ(W.bias(n), bias[n]) << "bias(" << n << ")";  // exact in both storages
    }
    const PackedMatrix W0 = PackedMatrix::pack(s.src(), nullptr, pc.storage);
    for (int n = 0; n < N; ++n) ASSERT_EQ(W0.bias(n), 0.f);
  }
}

TEST(Pack, F16SourceIntoF16StorageIsBitExact) {
  for (bool transposed : {false, true}) {
    const Source s = make_source(37, 21, DType::kF16, transposed, 5);
    const PackedMatrix W = PackedMatrix::pack(s.src(), nullptr, Storage::kF16);
    for (int k = 0; k < 37; ++k)
      for (int n = 0; n < 21; ++n) {
        const float got = W.at(k, n), want = s.value(k, n);
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << k << "," << n;  // also tells -0 from +0
      }
  }
}

INSTANTIATE_TEST_SUITE_P(All, PackTest,
                         ::testing::Values(PackCase{DType::kF32, false, Storage::kF32},
                                           PackCase{DType::kF32, true, Storage::kF32},
                                           PackCase{DType::kF16, false, Storage::kF32},
                                           PackCase{DType::kBF16, true, Storage::kF32},
                                           PackCase{DType::kF32, false, Storage::kF16},
                                           PackCase{DType::kF32, true, Storage::kF16},
                                           PackCase{DType::kF16, false, Storage::kF16},
                                           PackCase{DType::kF16, true, Storage::kF16},
                                           PackCase{DType::kBF16, false, Storage::kF16},
                                           PackCase{DType::kBF16, true, Storage::kF16}),
                         [](const auto& info) {
                           const PackCase& c = info.param;
                           return std::string(dtype_name(c.dtype)) + (c.transposed ? "T" : "") + "_to_" +
                                  storage_name(c.storage);
                         });

TEST(Pack, RejectsBadShapesAndF16Overflow) {
  const float w[4] = {1.f, 2.f, 3.f, 4.f};
  EXPECT_THROW(PackedMatrix::pack({w, DType::kF32, 0, 4}, nullptr, Storage::kF32), lmdbg::Error);
  EXPECT_THROW(PackedMatrix::pack({nullptr, DType::kF32, 2, 2}, nullptr, Storage::kF32), lmdbg::Error);
  for (float bad : {70000.f, -65520.f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    const float v[4] = {1.f, bad, 3.f, 4.f};
    try {
      PackedMatrix::pack({v, DType::kF32, 2, 2}, nullptr, Storage::kF16);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const lmdbg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("W[0,1]"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(PackedMatrix::pack({v, DType::kF32, 2, 2}, nullptr, Storage::kF32));
  }
  const float edge[2] = {65504.f, -65519.f};  // the largest finite half; rounds down to -65504
  EXPECT_NO_THROW(PackedMatrix::pack({edge, DType::kF32, 1, 2}, nullptr, Storage::kF16));
  PackedMatrix W = PackedMatrix::pack({w, DType::kF32, 2, 2}, nullptr, Storage::kF32);
  float out[2];
  EXPECT_THROW(W.row(2, out), lmdbg::Error);
  EXPECT_THROW(W.col(-1, out), lmdbg::Error);
}

// ---------------------------------------------------------------- microkernels

// Runs one f32, f16w or ppmm kernel (A packed by f32_pack_a) on [mr, nc, kc] with strided A and C
// (canaries in the gaps) and checks every element. mr: 1..MR (ppmm: 1..2 MR + 1, several tiles).
void check_ukernel(const char* name, int MR, bool f16, F32GemmFn f32fn, F16wGemmFn f16fn, F32PpmmFn ppfn = nullptr) {
  constexpr int NR = PackedMatrix::NR;
  const Storage st = f16 ? Storage::kF16 : Storage::kF32;
  const int kcs[] = {1, 2, 3, 7, 16, 17, 65};
  const int ncs[] = {1, 3, NR - 1, NR, NR + 1, 2 * NR + 5, 4 * NR, 5 * NR + 3, 9 * NR - 1, 13 * NR + 3};
  for (int kc : kcs)
    for (int nc : ncs)
      for (int mr = 1; mr <= (ppfn ? 2 * MR + 1 : MR); ++mr) {
        const Source s = make_source(kc, nc, DType::kF32, false, 31 * kc + nc);
        const std::vector<float> bias = random_floats(nc, 3 + nc);
        const PackedMatrix W = PackedMatrix::pack(s.src(), bias.data(), st);
        auto dense = [&](int k, int n) {  // what the raw kernels see: side-list weights are +0
          for (const auto& e : W.f16_subnormals())
            if (e.n == n && e.k == k) return 0.f;
          return stored(s, st, k, n);
        };
        const size_t a_stride = kc + 3, c_stride = nc + 5;
        const int rows = std::max(MR, mr);
        std::vector<float> A = random_floats((rows + 1) * a_stride, 11 * mr + kc);
        std::vector<float> C((rows + 1) * c_stride, kCanary);
        if (ppfn) {
          std::vector<float> packed(static_cast<size_t>((mr + MR - 1) / MR * MR) * kc);
          f32_pack_a(MR, mr, kc, A.data(), a_stride, packed.data());
          ppfn(mr, nc, kc, packed.data(), W.f32(), C.data(), c_stride);
        } else if (!f16) {
          f32fn(mr, nc, kc, A.data(), a_stride, W.f32(), C.data(), c_stride);
        } else {
          std::vector<float> as(mr * kc), scale(mr);
          f16w_prescale_rows(mr, kc, A.data(), a_stride, as.data(), scale.data());
          f16fn(mr, nc, kc, as.data(), kc, W.f16(), W.f16_bias(), C.data(), c_stride, scale.data());
        }
        for (int m = 0; m < rows + 1; ++m)
          for (size_t n = 0; n < c_stride; ++n) {
            const float got = C[m * c_stride + n];
            if (m < mr && n < static_cast<size_t>(nc)) {
              ASSERT_TRUE(close(got, reference_fn(A.data() + m * a_stride, kc, dense, bias.data(), n)))
                  << name << " mr=" << mr << " nc=" << nc << " kc=" << kc << " at m=" << m << " n=" << n;
            } else {
              ASSERT_EQ(got, kCanary) << name << " wrote outside C: mr=" << mr << " nc=" << nc << " kc=" << kc
                                      << " at m=" << m << " n=" << n;
            }
          }
      }
}

TEST(Ukernels, F32AllTiles) {
  ASSERT_FALSE(f32_gemm_ukernels().empty());
  for (const auto& uk : f32_gemm_ukernels()) {
    ASSERT_EQ(uk.nr, PackedMatrix::NR) << uk.name;
    check_ukernel(uk.name, uk.mr, false, uk.fn, nullptr);
  }
}

TEST(Ukernels, F32PpmmAllTiles) {
  ASSERT_FALSE(f32_ppmm_ukernels().empty());
  for (const auto& uk : f32_ppmm_ukernels()) {
    ASSERT_EQ(uk.nr, PackedMatrix::NR) << uk.name;
    check_ukernel(uk.name, uk.mr, false, nullptr, nullptr, uk.fn);
  }
}

TEST(Ukernels, F16wAllTiles) {
  ASSERT_FALSE(f16w_gemm_ukernels().empty());
  for (const auto& uk : f16w_gemm_ukernels()) {
    ASSERT_EQ(uk.nr, PackedMatrix::NR) << uk.name;
    check_ukernel(uk.name, uk.mr, true, nullptr, uk.fn);
  }
}

// SIMD kernels and their scalar twins compute the same sums (up to FMA contraction).
TEST(Ukernels, SimdMatchesScalarTwin) {
  const GemmKernelSet& v = simd_kernel_set();
  const GemmKernelSet& s = scalar_kernel_set();
  ASSERT_EQ(v.mr, s.mr);
  ASSERT_EQ(v.nr, s.nr);
  const int K = 301, N = (2 * kGemvPanels + 1) * v.nr + 3, M = v.mr;  // GEMVs: 2 groups + leftovers
  const Source src = make_source(K, N, DType::kF32, false, 77);
  const PackedMatrix W32 = PackedMatrix::pack(src.src(), nullptr, Storage::kF32);
  const PackedMatrix W16 = PackedMatrix::pack(src.src(), nullptr, Storage::kF16);
  const std::vector<float> A = random_floats(static_cast<size_t>(M) * K, 78);
  std::vector<float> c1(M * N), c2(M * N), as(M * K), scale(M);
  auto cmp = [&](const char* what) {
    for (int i = 0; i < M * N; ++i)
      ASSERT_NEAR(c1[i], c2[i], 1e-5f * (1.f + std::fabs(c2[i]))) << what << " at m=" << i / N << " n=" << i % N;
  };
  v.f32_main(M, N, K, A.data(), K, W32.f32(), c1.data(), N);
  s.f32_main(M, N, K, A.data(), K, W32.f32(), c2.data(), N);
  cmp("f32_main");
  v.f32_1(1, N, K, A.data(), K, W32.f32(), c1.data(), N);
  s.f32_1(1, N, K, A.data(), K, W32.f32(), c2.data(), N);
  cmp("f32_1");
  v.f32_gemv(1, N, K, A.data(), K, W32.f32(), c1.data(), N);
  s.f32_gemv(1, N, K, A.data(), K, W32.f32(), c2.data(), N);
  cmp("f32_gemv");
  std::vector<float> packed(static_cast<size_t>(M) * K);
  f32_pack_a(M, M, K, A.data(), K, packed.data());
  v.f32_ppmm(M, N, K, packed.data(), W32.f32(), c1.data(), N);
  s.f32_ppmm(M, N, K, packed.data(), W32.f32(), c2.data(), N);
  cmp("f32_ppmm");
  f16w_prescale_rows(M, K, A.data(), K, as.data(), scale.data());
  v.f16w_main(M, N, K, as.data(), K, W16.f16(), W16.f16_bias(), c1.data(), N, scale.data());
  s.f16w_main(M, N, K, as.data(), K, W16.f16(), W16.f16_bias(), c2.data(), N, scale.data());
  cmp("f16w_main");
}

// The f16w pre-scaling keeps full precision whatever the magnitude of A.
TEST(Ukernels, F16wExtremeActivationMagnitudes) {
  const GemmKernelSet& ks = simd_kernel_set();
  const int K = 40, N = 5 * PackedMatrix::NR + 3;
  const Source s = make_source(K, N, DType::kF32, false, 9);
  const PackedMatrix W = PackedMatrix::pack(s.src(), nullptr, Storage::kF16);
  for (float mag : {0.f, 1e-38f, 1e-30f, 1e-10f, 1.f, 3e4f, 1e10f, 1e30f, 3e38f}) {
    std::vector<float> a = random_floats(K, 10, -mag, mag);
    std::vector<float> as(K), c(N);
    float scale;
    f16w_prescale_rows(1, K, a.data(), K, as.data(), &scale);
    ks.f16w_gemv(1, N, K, as.data(), K, W.f16(), W.f16_bias(), c.data(), N, &scale);
    for (int n = 0; n < N; ++n) {
      Ref r = reference(a.data(), K, s, Storage::kF16, nullptr, n);
      if (std::fabs(r.value) > 3e38) continue;  // overflows f32 legitimately
      // Relative to the magnitude of the terms, not the 1e-5 absolute floor.
      double mag_sum = 0;
      for (int k = 0; k < K; ++k) mag_sum += std::fabs(double(a[k]) * stored(s, Storage::kF16, k, n));
      r.tol = 1e-6 * mag_sum * std::sqrt(double(K)) + 1e-44;
      ASSERT_TRUE(close(c[n], r)) << "|a| ~ " << mag << " n=" << n;
    }
  }
}

// ---------------------------------------------------------------- the driver

struct GemmCase {
  Storage storage;
  DType dtype;
  bool transposed;
};

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

void check_gemm(const GemmCase& gc, int M, int K, int N, int n0, int n1) {
  const Source s = make_source(K, N, gc.dtype, gc.transposed, 100 * M + 7 * K + N);
  const std::vector<float> bias = random_floats(N, N + 1);
  const PackedMatrix W = PackedMatrix::pack(s.src(), bias.data(), gc.storage);
  const size_t lda = K + 2, ldc = (n1 - n0) + 3;
  const std::vector<float> A = random_floats(M * lda, 5 * M + K);
  std::vector<float> C((M + 1) * ldc, kCanary);
  if (n0 == 0 && n1 == N) gemm(C.data(), ldc, A.data(), lda, M, W);
  else gemm_cols(C.data(), ldc, A.data(), lda, M, W, n0, n1);
  const int n1c = std::min(n1, N);
  for (int m = 0; m < M + 1; ++m)
    for (size_t j = 0; j < ldc; ++j) {
      const float got = C[m * ldc + j];
      if (m < M && static_cast<int>(j) < n1c - n0) {
        ASSERT_TRUE(close(got, reference(A.data() + m * lda, K, s, gc.storage, bias.data(), n0 + j)))
            << "M=" << M << " K=" << K << " N=" << N << " cols [" << n0 << "," << n1 << ") at m=" << m << " n=" << n0 + j;
      } else {
        ASSERT_EQ(got, kCanary) << "wrote outside C: M=" << M << " K=" << K << " N=" << N << " at m=" << m << " j=" << j;
      }
    }
}

TEST_P(GemmTest, AllShapes) {
  constexpr int NR = PackedMatrix::NR;
  for (int M : {1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 33})
    for (int K : {1, 3, 17, 64, 129})
      for (int N : {1, 7, NR, NR + 1, 2 * NR + 1, 100}) check_gemm(GetParam(), M, K, N, 0, N);
}

TEST_P(GemmTest, ColumnRanges) {
  constexpr int NR = PackedMatrix::NR;
  const int N = 5 * NR + 3;
  const std::pair<int, int> ranges[] = {{0, N},      {NR, 2 * NR},   {3, 11},         {5, 6},
                                        {NR - 1, NR + 1}, {2 * NR, N + 50}, {N - 2, N}, {4 * NR + 1, 5 * NR}};
  for (int M : {1, 3, 4, 7, 20})
    for (auto [n0, n1] : ranges) check_gemm(GetParam(), M, 37, N, n0, n1);
}

INSTANTIATE_TEST_SUITE_P(All, GemmTest,
                         ::testing::Values(GemmCase{Storage::kF32, DType::kF32, false},
                                           GemmCase{Storage::kF32, DType::kF32, true},
                                           GemmCase{Storage::kF32, DType::kBF16, false},
                                           GemmCase{Storage::kF16, DType::kF32, false},
                                           GemmCase{Storage::kF16, DType::kF16, true},
                                           GemmCase{Storage::kF16, DType::kBF16, false}),
                         [](const auto& info) {
                           const GemmCase& c = info.param;
                           return std::string(dtype_name(c.dtype)) + (c.transposed ? "T" : "") + "_as_" +
                                  storage_name(c.storage);
                         });

// f16 storage moves subnormal weights to a side list: a third of them here, in every driver path.
TEST(Gemm, F16SubnormalWeightsExact) {
  constexpr int NR = PackedMatrix::NR;
  const int K = 45, N = 3 * NR + 5;
  Source s = make_source(K, N, DType::kF16, false, 12);
  std::mt19937 rng(5);
  for (auto& h : s.u16)
    if (rng() % 3 == 0) h = static_cast<uint16_t>((rng() & 0x8000) | (1 + rng() % 0x3ff));
  const std::vector<float> bias = random_floats(N, 13);
  const PackedMatrix W = PackedMatrix::pack(s.src(), bias.data(), Storage::kF16);
  EXPECT_GT(W.f16_subnormals().size(), static_cast<size_t>(K * N / 4));
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) ASSERT_EQ(W.at(k, n), s.value(k, n)) << k << "," << n;
  std::vector<float> col(K);
  W.col(N - 1, col.data());
  for (int k = 0; k < K; ++k) ASSERT_EQ(col[k], s.value(k, N - 1)) << k;
  for (int M : {1, 2, 3, 5, 6, 7, 9, 16}) {
    // Activations large enough that the subnormal terms matter at the tolerance.
    std::vector<float> A = random_floats(M * K, M);
    for (auto& a : A) a *= 1e5f;
    for (auto [n0, n1] : {std::pair{0, N}, {3, NR + 2}, {NR, N}}) {
      std::vector<float> C(M * (n1 - n0));
      gemm_cols(C.data(), n1 - n0, A.data(), K, M, W, n0, n1);
      for (int m = 0; m < M; ++m)
        for (int n = n0; n < n1; ++n)
          ASSERT_TRUE(close(C[m * (n1 - n0) + n - n0], reference(A.data() + m * K, K, s, Storage::kF16, bias.data(), n)))
              << "M=" << M << " cols [" << n0 << "," << n1 << ") at m=" << m << " n=" << n;
    }
  }
}

// Every row's result is bitwise independent of M (tile, leftover kernel, f16 in-kernel or decode
// path) and of the column range; f16 storage of f16-valued weights equals f32 storage bitwise.
TEST(Gemm, DeterministicAcrossMAndStorage) {
  constexpr int NR = PackedMatrix::NR;
  const int K = 77, N = 13 * NR + 3, Mmax = 15;  // GEMV: 2 groups of panels + leftovers
  Source s = make_source(K, N, DType::kF16, false, 21);
  for (auto& h : s.u16)  // no f16 subnormals: they would be added last in f16 storage only
    if ((h & 0x7c00) == 0) h = 0x1400 | (h & 0x83ff);
  const std::vector<float> bias = random_floats(N, 22);
  const PackedMatrix W32 = PackedMatrix::pack(s.src(), bias.data(), Storage::kF32);
  const PackedMatrix W16 = PackedMatrix::pack(s.src(), bias.data(), Storage::kF16);
  ASSERT_TRUE(W16.f16_subnormals().empty());
  const std::vector<float> A = random_floats(Mmax * K, 23);
  std::vector<float> one(N);
  std::vector<std::vector<float>> row_ref(Mmax, std::vector<float>(N));
  for (int m = 0; m < Mmax; ++m) gemm(row_ref[m].data(), N, A.data() + m * K, K, 1, W32);
  for (const PackedMatrix* W : {&W32, &W16})
    for (int M = 1; M <= Mmax; ++M) {
      std::vector<float> C(M * N);
      gemm(C.data(), N, A.data(), K, M, *W);
      for (int m = 0; m < M; ++m)
        ASSERT_EQ(std::memcmp(C.data() + m * N, row_ref[m].data(), N * sizeof(float)), 0)
            << (W == &W32 ? "f32" : "f16") << " storage, M=" << M << ", row " << m << " differs from M=1";
      std::vector<float> Cc(M * N);
      gemm_cols(Cc.data(), N, A.data(), K, M, *W, 0, 5);
      gemm_cols(Cc.data() + 5, N, A.data(), K, M, *W, 5, N);
      ASSERT_EQ(std::memcmp(Cc.data(), C.data(), C.size() * sizeof(float)), 0) << "column split, M=" << M;
    }
}

TEST(Gemm, NonFiniteActivationsPropagate) {
  const int K = 9, N = PackedMatrix::NR + 1;
  for (Storage st : {Storage::kF32, Storage::kF16})
    for (int M : {1, 4, 9}) {
      const Source s = make_source(K, N, DType::kF32, false, 4);
      const PackedMatrix W = PackedMatrix::pack(s.src(), nullptr, st);
      std::vector<float> A = random_floats(M * K, 2);
      A[0] = std::numeric_limits<float>::infinity();
      if (M > 1) A[K + 3] = std::nanf("");
      std::vector<float> C(M * N);
      gemm(C.data(), N, A.data(), K, M, W);
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n)
          ASSERT_TRUE(close(C[m * N + n], reference(A.data() + m * K, K, s, st, nullptr, n)))
              << "M=" << M << " m=" << m << " n=" << n;
    }
}

TEST(Gemm, ErrorsAndEmpty) {
  const Source s = make_source(4, 5, DType::kF32, false, 1);
  const PackedMatrix W = PackedMatrix::pack(s.src(), nullptr, Storage::kF32);
  std::vector<float> A(4 * 4, 1.f), C(4 * 5, kCanary);
  gemm(C.data(), 5, A.data(), 4, 0, W);  // M = 0
  gemm_cols(C.data(), 5, A.data(), 4, 2, W, 3, 3);  // empty range
  for (float c : C) ASSERT_EQ(c, kCanary);
  EXPECT_THROW(gemm(C.data(), 5, A.data(), 4, -1, W), lmdbg::Error);
  EXPECT_THROW(gemm(C.data(), 5, A.data(), 3, 2, W), lmdbg::Error);   // lda < K
  EXPECT_THROW(gemm(C.data(), 4, A.data(), 4, 2, W), lmdbg::Error);   // ldc < N
  EXPECT_THROW(gemm_cols(C.data(), 5, A.data(), 4, 2, W, 4, 2), lmdbg::Error);
  EXPECT_THROW(gemm(C.data(), 5, A.data(), 4, 1, PackedMatrix()), lmdbg::Error);
}

// ---------------------------------------------------------------- q8 storage (q8.h)

// The q8 scale of W[k0.., n]'s block (as q8.h defines it) from the f32 values.
float q8_block_scale(const std::vector<float>& w, int K, int N, int k, int n) {
  const int k0 = k / kQ8Block * kQ8Block, k1 = std::min(K, k0 + kQ8Block);
  float amax = 0.f;
  for (int i = k0; i < k1; ++i) amax = std::max(amax, std::fabs(w[static_cast<size_t>(i) * N + n]));
  return f16_to_f32(q8_scale_for(amax));
}

// Packing quantizes each block of 32 along K to q * s with s the smallest f16 >= max|w| / 127: every
// stored weight is within s/2 of the source; an I8 source (q, f16 scales, as `lmdbg convert --dtype
// q8` writes them) packs to the same matrix, and into f32 storage as q * s exactly.
TEST(Q8, PackRoundTripAndI8Source) {
  constexpr int NR = PackedMatrix::NR;
  for (int K : {1, 31, 32, 33, 100})
    for (int N : {1, NR + 3, 3 * NR}) {
      std::vector<float> w = random_floats(static_cast<size_t>(K) * N, K * 131 + N, -2.f, 2.f);
      for (size_t i = 0; i < w.size(); i += 11) w[i] *= 1e-3f;  // small and large blocks side by side
      if (K > 40) for (int n = 0; n < N; ++n) w[static_cast<size_t>(35) * N + n] = 0.f;  // an all-zero row
      const std::vector<float> bias = random_floats(N, 9);
      const PackedMatrix Q = PackedMatrix::pack({w.data(), DType::kF32, K, N}, bias.data(), Storage::kQ8);
      const int nb = static_cast<int>(q8_blocks(K));
      std::vector<int8_t> q(static_cast<size_t>(K) * N);
      std::vector<uint16_t> sc(static_cast<size_t>(nb) * N);
      for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) {
          const float s = q8_block_scale(w, K, N, k, n), x = w[static_cast<size_t>(k) * N + n];
          const int8_t qv = q8_quantize(x, s);
          ASSERT_EQ(Q.q8_value(k, n), qv) << K << "x" << N << " at " << k << "," << n;
          ASSERT_EQ(Q.q8_scale(k, n), s);
          ASSERT_EQ(Q.at(k, n), qv * s);
          ASSERT_LE(std::fabs(Q.at(k, n) - x), 0.50001f * s) << k << "," << n;
          q[static_cast<size_t>(k) * N + n] = qv;
          sc[static_cast<size_t>(k / kQ8Block) * N + n] = f32_to_f16(s);  // s is an f16 value
        }
      for (int n = 0; n < N; ++n) ASSERT_EQ(Q.bias(n), bias[n]);
      // The same matrix from its I8 form, and transposed ([N, K] q, [N, nb] scales).
      std::vector<int8_t> qt(q.size());
      std::vector<uint16_t> st(sc.size());
      for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) qt[static_cast<size_t>(n) * K + k] = q[static_cast<size_t>(k) * N + n];
      for (int b = 0; b < nb; ++b)
        for (int n = 0; n < N; ++n) st[static_cast<size_t>(n) * nb + b] = sc[static_cast<size_t>(b) * N + n];
      const PackedMatrix R = PackedMatrix::pack({q.data(), DType::kQ8, K, N, false, sc.data()}, bias.data(), Storage::kQ8);
      const PackedMatrix RT = PackedMatrix::pack({qt.data(), DType::kQ8, N, K, true, st.data()}, bias.data(), Storage::kQ8);
      const PackedMatrix F = PackedMatrix::pack({q.data(), DType::kQ8, K, N, false, sc.data()}, bias.data(), Storage::kF32);
      ASSERT_EQ(R.bytes(), Q.bytes());
      ASSERT_EQ(R.bytes(), PackedMatrix::packed_bytes(K, N, Storage::kQ8));
      for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) {
          ASSERT_EQ(R.at(k, n), Q.at(k, n)) << k << "," << n;
          ASSERT_EQ(RT.at(k, n), Q.at(k, n)) << k << "," << n;
          ASSERT_EQ(F.at(k, n), Q.at(k, n)) << k << "," << n;
        }
      std::vector<float> A = random_floats(3 * K, 4), c1(3 * N), c2(3 * N);
      gemm(c1.data(), N, A.data(), K, 3, Q);
      gemm(c2.data(), N, A.data(), K, 3, RT);
      ASSERT_EQ(std::memcmp(c1.data(), c2.data(), c1.size() * 4), 0);
    }
}

TEST(Q8, PackRejectsWhatQ8CannotHold) {
  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf(""), 9e6f}) {
    const float v[4] = {1.f, bad, 3.f, 4.f};
    try {
      PackedMatrix::pack({v, DType::kF32, 2, 2}, nullptr, Storage::kQ8);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const lmdbg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("q8 storage cannot hold W[0,1]"), std::string::npos) << e.what();
    }
  }
  const float edge[2] = {8e6f, -1e-30f};
  EXPECT_NO_THROW(PackedMatrix::pack({edge, DType::kF32, 1, 2}, nullptr, Storage::kQ8));
  const int8_t q[4] = {1, 2, 3, 4};
  EXPECT_THROW(PackedMatrix::pack({q, DType::kQ8, 2, 2}, nullptr, Storage::kQ8), lmdbg::Error);  // no scales
}

// The q8 GEMM against the exact product of the f32 weights, within the bound that q8's two roundings
// allow (docs/weights-format.md): a weight w is stored as q*s (|error| <= s/2), an activation a as
// i*t with t = max|a| / 32767 over its block (|error| <= t/2); the integer sums are exact; so
//   |C - A·W| <= sum_k (|a_k| s_k + t_k |w~_k|) / 2  + the f32 rounding of the block sums.
TEST(Q8, GemmWithinTheQuantizationBound) {
  constexpr int NR = PackedMatrix::NR;
  for (int M : {1, 2, 3, 4, 5, 9, 33})
    for (int K : {1, 17, 64, 129})
      for (int N : {1, NR + 1, 4 * NR + 5, 9 * NR, 13 * NR + 3}) {  // GEMV: up to 2 groups + leftovers
        std::vector<float> w = random_floats(static_cast<size_t>(K) * N, 7 * K + N);
        std::vector<float> A = random_floats(static_cast<size_t>(M) * K, 3 * M + K, -3.f, 3.f);
        if (K > 20) A[5] = 40.f;  // one block with a large activation
        const std::vector<float> bias = random_floats(N, 5);
        const PackedMatrix W = PackedMatrix::pack({w.data(), DType::kF32, K, N}, bias.data(), Storage::kQ8);
        for (auto [n0, n1] : {std::pair{0, N}, {std::min(3, N - 1), N}}) {
          const int nc = n1 - n0;
          std::vector<float> C(static_cast<size_t>(M) * nc, kCanary);
          gemm_cols(C.data(), nc, A.data(), K, M, W, n0, n1);
          for (int m = 0; m < M; ++m) {
            const float* a = A.data() + static_cast<size_t>(m) * K;
            for (int n = n0; n < n1; ++n) {
              double exact = bias[n], bound = 0, mag = std::fabs(bias[n]);
              for (int k = 0; k < K; ++k) {
                const int k0 = k / kQ8Block * kQ8Block, k1 = std::min(K, k0 + kQ8Block);
                double amax = 0;
                for (int i = k0; i < k1; ++i) amax = std::max(amax, std::fabs(double(a[i])));
                const double t = amax / 32767, s = W.q8_scale(k, n), wq = W.at(k, n);
                exact += double(a[k]) * w[static_cast<size_t>(k) * N + n];
                bound += 0.5001 * (std::fabs(a[k]) * s + t * std::fabs(wq));
                mag += std::fabs(a[k] * wq);
              }
              bound += 1e-6 * mag * std::sqrt(double(K)) + 1e-6;
              const float got = C[static_cast<size_t>(m) * nc + n - n0];
              ASSERT_LE(std::fabs(got - exact), bound)
                  << "M=" << M << " K=" << K << " N=" << N << " m=" << m << " n=" << n << ": got " << got << ", exact "
                  << exact;
            }
          }
        }
      }
}

// Every output is one chain: bitwise the same for any M (GEMV, tiles, leftovers) and column range.
TEST(Q8, DeterministicAcrossMAndColumns) {
  constexpr int NR = PackedMatrix::NR;
  const int K = 77, N = 13 * NR + 3, Mmax = 13;
  const std::vector<float> w = random_floats(static_cast<size_t>(K) * N, 31);
  const std::vector<float> bias = random_floats(N, 32);
  const PackedMatrix W = PackedMatrix::pack({w.data(), DType::kF32, K, N}, bias.data(), Storage::kQ8);
  const std::vector<float> A = random_floats(Mmax * K, 33);
  std::vector<std::vector<float>> row_ref(Mmax, std::vector<float>(N));
  for (int m = 0; m < Mmax; ++m) gemm(row_ref[m].data(), N, A.data() + m * K, K, 1, W);
  for (int M = 1; M <= Mmax; ++M) {
    std::vector<float> C(M * N), Cc(M * N);
    gemm(C.data(), N, A.data(), K, M, W);
    for (int m = 0; m < M; ++m)
      ASSERT_EQ(std::memcmp(C.data() + m * N, row_ref[m].data(), N * sizeof(float)), 0) << "M=" << M << ", row " << m;
    gemm_cols(Cc.data(), N, A.data(), K, M, W, 0, 5);
    gemm_cols(Cc.data() + 5, N, A.data(), K, M, W, 5, N);
    ASSERT_EQ(std::memcmp(Cc.data(), C.data(), C.size() * sizeof(float)), 0) << "column split, M=" << M;
  }
  // Non-finite activations poison their own block's row only.
  std::vector<float> B = A;
  B[3] = std::numeric_limits<float>::infinity();
  std::vector<float> C(2 * N);
  gemm(C.data(), N, B.data(), K, 2, W);
  for (int n = 0; n < N; ++n) {
    ASSERT_TRUE(std::isnan(C[n])) << n;
    ASSERT_EQ(C[N + n], row_ref[1][n]) << n;
  }
}

// ---------------------------------------------------------------- topk

std::vector<int> topk_reference(const std::vector<float>& x, int k, bool largest) {
  std::vector<int> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto key = [&](int i) {
    const float v = x[i];
    if (std::isnan(v)) return -std::numeric_limits<float>::infinity();
    return largest ? v : -v;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return key(a) > key(b); });
  idx.resize(std::min<size_t>(std::max(k, 0), x.size()));
  return idx;
}

void check_topk(const std::vector<float>& x, int k, bool largest, const std::string& what) {
  std::vector<int> got(std::max(k, 0) + 1, -7);
  const int n = topk(x.data(), static_cast<int>(x.size()), k, got.data(), largest);
  const std::vector<int> want = topk_reference(x, k, largest);
  ASSERT_EQ(n, static_cast<int>(want.size())) << what;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(got[i], want[i]) << what << " k=" << k << (largest ? " largest" : " smallest") << " rank " << i;
  ASSERT_EQ(got[n], -7) << what << ": wrote past min(k, n)";
}

TEST(TopK, RandomTiesAndEdges) {
  std::mt19937 rng(3);
  for (int n : {0, 1, 5, 16, 17, 100, 1000, 50257}) {
    std::vector<float> x = random_floats(n, n);
    std::vector<float> ties(n);
    for (auto& v : ties) v = static_cast<float>(static_cast<int>(rng() % 7)) - 3.f;  // heavy ties
    std::vector<float> sorted_up(n);
    for (int i = 0; i < n; ++i) sorted_up[i] = static_cast<float>(i);  // worst case for the heap
    for (int k : {-1, 0, 1, 2, 10, 100, n - 1, n, n + 5})
      for (bool largest : {true, false}) {
        check_topk(x, k, largest, "random n=" + std::to_string(n));
        check_topk(ties, k, largest, "ties n=" + std::to_string(n));
        check_topk(sorted_up, k, largest, "ascending n=" + std::to_string(n));
      }
  }
}

TEST(TopK, NaNInfAndSignedZero) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const std::vector<float> x = {nan, 1.f, -inf, 0.f, -0.f, inf, nan, -2.f, inf, 3.f, nan, -inf};
  for (int k = 0; k <= 13; ++k)
    for (bool largest : {true, false}) check_topk(x, k, largest, "specials");
  // Many all-NaN blocks, few numbers: the top k must include NaNs (ranked last, by index).
  std::vector<float> mostly_nan(200, nan);
  for (int i : {3, 50, 51, 120, 199}) mostly_nan[i] = static_cast<float>(i % 7) - inf * (i == 120);
  for (int k : {1, 4, 5, 6, 20, 64, 200})
    for (bool largest : {true, false}) check_topk(mostly_nan, k, largest, "mostly NaN");
  std::vector<int> idx(3);
  ASSERT_EQ(topk(x.data(), static_cast<int>(x.size()), 3, idx.data()), 3);
  EXPECT_EQ(idx, (std::vector<int>{5, 8, 9}));  // inf, inf (lower index first), 3
}

// ---------------------------------------------------------------- attention helpers

TEST(Attention, ScoresAndWeightedSumMatchNaive) {
  for (int d : {1, 3, 4, 8, 17, 64, 80})
    for (int n : {1, 2, 3, 4, 5, 9, 33}) {
      const size_t ld = 3 * d + 5;  // strided rows, as in the [T, 3d] qkv buffer
      const std::vector<float> q = random_floats(d, d), kv = random_floats(n * ld, n + d), p = random_floats(n, 2 * n);
      std::vector<float> s(n + 1, kCanary), o(d + 1, kCanary);
      attn_scores(s.data(), q.data(), kv.data(), ld, n, d, 0.125f);
      attn_weighted_sum(o.data(), p.data(), kv.data(), ld, n, d);
      for (int j = 0; j < n; ++j) {
        double acc = 0, mag = 0;
        for (int i = 0; i < d; ++i) acc += double(q[i]) * kv[j * ld + i], mag += std::fabs(double(q[i]) * kv[j * ld + i]);
        ASSERT_TRUE(close(s[j], {acc * 0.125, 0.125 * std::max(1e-5, 1e-6 * mag) * std::sqrt(double(d))}))
            << "scores d=" << d << " n=" << n << " j=" << j;
      }
      for (int i = 0; i < d; ++i) {
        double acc = 0, mag = 0;
        for (int j = 0; j < n; ++j) acc += double(p[j]) * kv[j * ld + i], mag += std::fabs(double(p[j]) * kv[j * ld + i]);
        ASSERT_TRUE(close(o[i], {acc, std::max(1e-5, 1e-6 * mag) * std::sqrt(double(n))}))
            << "weighted sum d=" << d << " n=" << n << " i=" << i;
      }
      ASSERT_EQ(s[n], kCanary);
      ASSERT_EQ(o[d], kCanary);
    }
}

}  // namespace
}  // namespace lmdbg::kernels
