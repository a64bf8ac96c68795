#ifndef CPUFEATURES_H
#define CPUFEATURES_H
/* Which vector instruction sets this CPU *and* the operating system support.
   Each returns 1 or 0. On non-x86 machines all return 0. */
int cpof_has_avx2_fma(void);
int cpof_has_avx512(void);   /* AVX-512 F, BW, DQ, VL: the skylake-avx512 baseline */
int cpof_has_avx512_bf16(void); /* that, and AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16) */
#endif
