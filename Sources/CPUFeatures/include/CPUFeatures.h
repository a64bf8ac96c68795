#ifndef CPUFEATURES_H
#define CPUFEATURES_H
/* Which vector instruction sets this CPU *and* the operating system support.
   Each returns 1 or 0. On non-x86 machines both return 0. */
int cpof_has_avx2_fma(void);
int cpof_has_avx512(void);   /* AVX-512 F, BW, DQ, VL: the skylake-avx512 baseline */
#endif
