import pytest

from lmcourse.profiles import ENV_VAR, PROFILES, get_profile


def test_default_profile_is_cpu(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert get_profile().name == "cpu"


@pytest.mark.parametrize("name", ["ci", "cpu", "gpu", " GPU "])
def test_profile_is_read_from_the_environment(monkeypatch, name):
    monkeypatch.setenv(ENV_VAR, name)
    assert get_profile().name == name.strip().lower()


def test_explicit_name_wins_over_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "gpu")
    assert get_profile("ci").name == "ci"


def test_unknown_profile_from_environment_names_variable_and_valid_values(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "laptop")
    with pytest.raises(ValueError, match=r"LMCOURSE_PROFILE must be one of ci, cpu, gpu; got 'laptop'"):
        get_profile()


def test_unknown_profile_by_name_is_an_error():
    with pytest.raises(ValueError, match="name must be one of ci, cpu, gpu"):
        get_profile("tpu")


def test_profiles_grow_from_ci_to_gpu():
    ci, cpu, gpu = PROFILES["ci"], PROFILES["cpu"], PROFILES["gpu"]
    for field in ("train_steps", "block_size", "n_embd", "n_layer", "eval_batches"):
        assert getattr(ci, field) < getattr(cpu, field) <= getattr(gpu, field), field
    assert 0 < ci.data_fraction < cpu.data_fraction <= 1
    for p in PROFILES.values():
        assert p.n_embd % p.n_head == 0, f"{p.name}: n_embd must split evenly into heads"


def test_pick_returns_the_value_for_the_active_profile():
    assert get_profile("ci").pick(ci=1, cpu=2, gpu=3) == 1
    assert get_profile("cpu").pick(ci=1, cpu=2, gpu=3) == 2
    assert get_profile("gpu").pick(ci=1, cpu=2, gpu=3) == 3
    assert get_profile("gpu").pick(ci=1, cpu=2) == 2  # gpu falls back to the cpu value
