"""Linear attenuation coefficients of foreign-body materials at an effective chest energy.

A chest radiograph is taken at 110-125 kVp with about 3 mm Al total filtration plus the
patient; the spectrum reaching the detector has an effective (mean, hardened) energy of
about 60 keV. We model every material by its linear attenuation coefficient at 60 keV:
`mu_per_mm = (mu/rho) * density`.

Source of mu/rho (total with coherent scattering, cm^2/g, at 6.0E-02 MeV): NIST Standard
Reference Database 126, J. H. Hubbell and S. M. Seltzer, "Tables of X-Ray Mass Attenuation
Coefficients and Mass Energy-Absorption Coefficients" (XCOM data), Table 3 (elements) and
Table 4 (compounds). Alloys and glass are mass-fraction mixtures of their constituents
(mixture rule, exact away from absorption edges; no K edge lies between 30 and 90 keV for
any constituent except lead, whose K edge is at 88 keV). Densities are handbook values.

| material       | composition (mass)          | mu/rho cm^2/g | rho g/cm^3 | mu 1/mm |
|----------------|-----------------------------|---------------|------------|---------|
| steel          | Fe (carbon/stainless steel) | 1.205         | 7.85       | 0.946   |
| copper_nickel  | Cu 75 % Ni 25 % (coins)     | 1.563         | 8.92       | 1.394   |
| zinc           | Zn (US cent core)           | 1.713         | 7.14       | 1.223   |
| lead           | Pb (bullet cores, pellets)  | 5.021         | 11.35      | 5.699   |
| aluminium      | Al                          | 0.2778        | 2.699      | 0.0750  |
| brass          | Cu 65 % Zn 35 %             | 1.635         | 8.50       | 1.390   |
| glass          | soda-lime (SiO2-Na2O-CaO)   | 0.262         | 2.50       | 0.0655  |
| plastic        | PMMA / ABS-like polymer     | 0.1924        | 1.19       | 0.0229  |
| water          | soft-tissue reference       | 0.2059        | 1.00       | 0.0206  |
| copper         | Cu (ECG lead conductors)    | 1.593         | 8.96       | 1.427   |
| barium_stripe  | PU with ~40 % BaSO4 (the    | ~1.7          | ~1.9       | ~0.32   |
|                | radiopaque line of tubes)   | (estimate: Ba 8.5 above its 37 keV K edge) |  |
| gold_14k       | Au 58.5 % Cu 41.5 % (14 ct) | 3.31          | 13.1       | 4.34    |

Element values at 60 keV used for the mixtures: Cu 1.593, Ni 1.474, Zn 1.713 (Hubbell &
Seltzer Table 3); Au 4.528 (Table 3; 14-carat ring gold, Ag in the alloy counted as Cu);
soda-lime glass from O 0.1875, Si 0.3207, Na 0.2122, Ca 0.7441.
"""

from __future__ import annotations

EFFECTIVE_ENERGY_KEV = 60.0

MU_PER_MM: dict[str, float] = {
    "steel": 0.946,
    "copper_nickel": 1.394,
    "zinc": 1.223,
    "lead": 5.699,
    "aluminium": 0.0750,
    "brass": 1.390,
    "glass": 0.0655,
    "plastic": 0.0229,
    "water": 0.0206,
    "gold_14k": 4.34,
    "copper": 1.427,
    "barium_stripe": 0.32,
}

MATERIALS = tuple(m for m in MU_PER_MM if m != "water")


def mu_per_mm(material: str) -> float:
    """Linear attenuation coefficient in 1/mm at the effective energy."""
    if material not in MU_PER_MM:
        raise KeyError(f"unknown material {material!r}; allowed: {sorted(MU_PER_MM)}")
    return MU_PER_MM[material]


def mixture_mu_per_mm(parts: dict[str, float]) -> float:
    """Volume-fraction-weighted mu of a composite (e.g. a jacketed bullet: lead core in brass)."""
    total = sum(parts.values())
    if total <= 0:
        raise ValueError(f"volume fractions must sum to a positive number, got {parts}")
    return sum(mu_per_mm(m) * f for m, f in parts.items()) / total
