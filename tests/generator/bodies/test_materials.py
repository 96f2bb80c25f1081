import pytest

from generator.bodies.materials import MATERIALS, MU_PER_MM, mixture_mu_per_mm, mu_per_mm


def test_every_catalogue_material_is_tabulated():
    for name in ("steel", "copper_nickel", "zinc", "lead", "aluminium", "brass", "glass", "plastic"):
        assert name in MATERIALS and MU_PER_MM[name] > 0


def test_values_match_nist_mass_attenuation_times_density():
    # mu/rho at 60 keV (Hubbell & Seltzer, NIST SRD 126) x density
    assert mu_per_mm("steel") == pytest.approx(1.205 * 7.85 / 10, rel=0.01)
    assert mu_per_mm("lead") == pytest.approx(5.021 * 11.35 / 10, rel=0.01)
    assert mu_per_mm("aluminium") == pytest.approx(0.2778 * 2.699 / 10, rel=0.01)
    assert mu_per_mm("water") == pytest.approx(0.2059 / 10, rel=0.01)


def test_physical_ordering_metal_saturates_plastic_faint():
    order = ["lead", "copper_nickel", "zinc", "steel", "aluminium", "glass", "plastic"]
    assert order.index("lead") == 0
    assert MU_PER_MM["lead"] > MU_PER_MM["copper_nickel"] > MU_PER_MM["zinc"] > MU_PER_MM["steel"]
    assert MU_PER_MM["steel"] > 10 * MU_PER_MM["aluminium"] > 10 * MU_PER_MM["plastic"]
    assert MU_PER_MM["plastic"] < 1.2 * MU_PER_MM["water"]


def test_mixture_and_errors():
    assert mixture_mu_per_mm({"lead": 1.0, "brass": 1.0}) == pytest.approx((MU_PER_MM["lead"] + MU_PER_MM["brass"]) / 2)
    with pytest.raises(KeyError, match="allowed"):
        mu_per_mm("unobtainium")
