import pytest

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.rng import cumulative, pick, sample_rng


def test_defaults_resolve_to_all_classes_equal_weights():
    cfg = BuildConfig(count=10, seed=1, style="legacy").validate()
    assert cfg.classes == ("none", "coin", "magnets", "bullet")
    assert cfg.class_weights == (0.25, 0.25, 0.25, 0.25)
    assert cfg.num_shards == 1 and list(cfg.shard_range(0)) == list(range(10))


@pytest.mark.parametrize("kwargs, option, allowed", [
    ({"classes": ("coin", "spoon"), "style": "legacy"}, "--classes", "none, coin, magnets, bullet"),
    ({"count": 0}, "--count", ">= 1"),
    ({"style": "cartoon"}, "--style", "legacy"),
    ({"image_format": "gif"}, "--image-format", "jpg, png, png16"),
    ({"class_weights": (1.0,)}, "--class-weights", "4 numbers"),
    ({"class_weights": (-1.0, 1.0, 1.0, 1.0)}, "--class-weights", "non-negative"),
    ({"size": 5}, "--size", "32..8192"),
    ({"split": "holdout"}, "--split", "one of the --split-fractions names: train, val, test"),
    ({"split": "a", "split_fractions": (("a", 0.5), ("b", 0.6))}, "--split-fractions", "summing to 1"),
    ({"split_seed": -1}, "--split-seed", ">= 0"),
])
def test_bad_options_name_the_option_and_allowed_values(kwargs, option, allowed):
    with pytest.raises(ConfigError) as err:
        BuildConfig(**{"count": 10, "seed": 1, "style": "legacy", **kwargs}).validate()
    assert option in str(err.value) and allowed in str(err.value)


def test_to_dict_leaves_unset_split_options_out():
    """A build without --split keeps the config dict (and so the resume identity) of before."""
    plain = BuildConfig(count=10, seed=1).validate().to_dict()
    assert not {"split", "split_fractions", "split_seed"} & set(plain)
    assert "group_column" not in plain["sources"]
    split = BuildConfig(count=10, seed=1, split="val", split_seed=4,
                        sources=SourceConfig(input="x.csv", group_column="Patient")).validate().to_dict()
    assert (split["split"], split["split_seed"]) == ("val", 4)
    assert split["split_fractions"] == (("train", 0.8), ("val", 0.1), ("test", 0.1))
    assert split["sources"]["group_column"] == "Patient"
    assert {k: v for k, v in split.items() if not k.startswith("split") and k != "sources"} == {
        k: v for k, v in plain.items() if k != "sources"}


def test_run_config_rejects_unknown_executor():
    with pytest.raises(ConfigError, match="--executor.*local, ray"):
        RunConfig(out="x", executor="spark").validate()


def test_sample_rng_depends_on_seed_and_index_only():
    a = sample_rng(7, 42).random(4)
    assert (a == sample_rng(7, 42).random(4)).all()
    assert not (a == sample_rng(7, 43).random(4)).all()
    assert not (a == sample_rng(8, 42).random(4)).all()


def test_pick_draws_what_choice_draws():
    """`pick` replaces Generator.choice in the samplers: same draws, so specs do not move."""
    items, p = ("a", "b", "c", "d"), (0.1, 0.0, 0.6, 0.3)
    for seed in range(200):
        r1, r2 = sample_rng(seed, 0), sample_rng(seed, 0)
        for _ in range(5):
            assert pick(r2, items, cumulative(p)) == str(r1.choice(items, p=p))
            assert pick(r2, items) == str(r1.choice(items))
        assert r1.random() == r2.random()


@pytest.mark.parametrize("flag, value", [("--split-fractions", "train=0.5,test=0.5"), ("--split-seed", "3")])
def test_a_split_option_without_split_is_refused(flag, value):
    from generator.cli import configs_from_args
    from radiopaque.cli import parser

    args = parser().parse_args(["generate", "--out", "x", flag, value])
    with pytest.raises(ConfigError, match=f"{flag}: .*used only with --split NAME"):
        configs_from_args(args)
    configs_from_args(parser().parse_args(["generate", "--out", "x", "--split", "train", flag, value]))


@pytest.mark.parametrize("option,value,allowed", [("distractors", "all", "none, negative, class"),
                                                  ("randomise", "wild", "none, light, strong")])
def test_distractor_and_randomise_modes_are_checked(option, value, allowed):
    with pytest.raises(ConfigError, match=f"--{option}.*{allowed}"):
        BuildConfig(count=1, seed=0, **{option: value}).validate()


def test_distractors_and_randomise_enter_the_config_only_when_used():
    plain = BuildConfig(count=1, seed=0).validate()
    assert "distractors" not in plain.to_dict() and "randomise" not in plain.to_dict()
    used = BuildConfig(count=1, seed=0, distractors="class", randomise="light").validate()
    assert used.to_dict()["distractors"] == "class" and used.to_dict()["randomise"] == "light"
    assert used.label_classes == (*used.classes, "medical_device") and plain.label_classes == plain.classes


def test_physical_default_mix_favours_clothing_and_jewellery():
    cfg = BuildConfig(count=1, seed=0).validate()
    weights = dict(zip(cfg.classes, cfg.class_weights))
    assert max(weights, key=weights.get) == "jewellery_clothing"
    assert weights["jewellery_clothing"] > 2 * weights["coin"] > 2 * weights["magnets"]
    assert weights["none"] == pytest.approx(1 / 8.5, rel=0.01)  # about 1/9, as with equal weights
    legacy = BuildConfig(count=1, seed=0, style="legacy").validate()
    assert len(set(legacy.class_weights)) == 1


def test_distractors_need_the_physical_style():
    with pytest.raises(ConfigError, match="--distractors.*physical only"):
        BuildConfig(count=1, seed=0, style="legacy", distractors="negative").validate()
