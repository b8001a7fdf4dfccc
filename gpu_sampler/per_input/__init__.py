"""Smoothing parameters chosen per input or per dataset, certified soundly: data-dependent sigma
(Alfarra et al.), ANCER's anisotropic optimization (Eiras et al.), the ARS noise generator (Hong &
Hong) and the memory-based certification that keeps such results sound (Alfarra et al. Sec. 3.5).
"""
