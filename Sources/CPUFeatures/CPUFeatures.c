#include "CPUFeatures.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <stdint.h>

static uint64_t xgetbv0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

/* OS saves the register state we need: XMM|YMM (bits 1,2), plus opmask/ZMM (5,6,7) for AVX-512. */
static int os_saves(uint64_t mask) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 27))) return 0; /* OSXSAVE */
  return (xgetbv0() & mask) == mask;
}

int cpof_has_avx2_fma(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int fma = (c >> 12) & 1, avx = (c >> 28) & 1;
  if (!fma || !avx || !os_saves(0x6)) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
  return avx2 && bmi2;
}

int cpof_has_avx512(void) {
  unsigned a, b, c, d;
  if (!cpof_has_avx2_fma()) return 0;
  if (!os_saves(0xE6)) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
  return f && dq && cd && bw && vl;
}

int cpof_has_avx512_bf16(void) {
  unsigned a, b, c, d;
  if (!cpof_has_avx512()) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return 0; /* EAX: the last subleaf */
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
  return (a >> 5) & 1; /* leaf 7 subleaf 1, EAX bit 5: AVX512_BF16 */
}
#else
int cpof_has_avx2_fma(void) { return 0; }
int cpof_has_avx512(void) { return 0; }
int cpof_has_avx512_bf16(void) { return 0; }
#endif
