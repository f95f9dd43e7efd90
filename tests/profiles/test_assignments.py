"""Experiment assignments and the holdout draw in the profile: sticky, versioned, merged at login."""

from etalage.profiles.profile import Assignment, Event, Profile


def assigned(experiment: str, variant: str, version: int = 1, at: float = 1000.0) -> Event:
    return Event("assigned", experiment, at, {"variant": variant, "version": version})


def exposed(experiment: str, variant: str, version: int = 1, at: float = 2000.0) -> Event:
    return Event("exposed", experiment, at, {"variant": variant, "version": version})


def test_assignments_first_of_a_version_stands():
    profile = Profile()
    profile.apply([assigned("hero", "big"), assigned("hero", "small", at=1500.0)])
    assert profile.assignments == {"hero": Assignment("big", 1, 1000.0)}


def test_assignments_a_higher_version_draws_again():
    profile = Profile()
    profile.apply([assigned("hero", "big"), assigned("hero", "small", version=2, at=1500.0)])
    assert profile.assignments == {"hero": Assignment("small", 2, 1500.0)}


def test_assignments_an_older_version_changes_nothing():
    profile = Profile()
    profile.apply([assigned("hero", "big", version=3), assigned("hero", "small", version=2)])
    assert profile.assignments["hero"].variant == "big"


def test_assignments_exposure_is_recorded_once():
    profile = Profile()
    profile.apply([assigned("hero", "big"), exposed("hero", "big", at=2000.0), exposed("hero", "big", at=3000.0)])
    assert profile.assignments["hero"].exposed == 2000.0


def test_assignments_exposure_to_another_variant_or_version_is_ignored():
    profile = Profile()
    profile.apply([assigned("hero", "big"), exposed("hero", "small"), exposed("hero", "big", version=2), exposed("other", "big")])
    assert profile.assignments == {"hero": Assignment("big", 1, 1000.0)}


def test_assignments_holdout_draw_is_kept_from_the_first_time():
    profile = Profile()
    profile.apply([Event("holdout", "", 1.0, {"place": 0.03}), Event("holdout", "", 2.0, {"place": 0.7})])
    assert profile.holdout_place == 0.03


def test_assignments_survive_storage():
    profile = Profile()
    profile.apply([assigned("hero", "big"), exposed("hero", "big"), Event("holdout", "", 1.0, {"place": 0.5})])
    again = Profile.loads(profile.dumps())
    assert (again.assignments, again.holdout_place) == ({"hero": Assignment("big", 1, 1000.0, 2000.0)}, 0.5)


def test_assignments_merge_keeps_the_customers_variant():
    customer, anonymous = Profile(), Profile()
    customer.apply([assigned("hero", "big"), Event("holdout", "", 1.0, {"place": 0.5})])
    anonymous.apply([assigned("hero", "small"), assigned("sort", "on"), Event("holdout", "", 1.0, {"place": 0.01})])
    customer.merge(anonymous)
    assert {key: a.variant for key, a in customer.assignments.items()} == {"hero": "big", "sort": "on"}
    assert customer.holdout_place == 0.5


def test_assignments_merge_takes_a_higher_version_and_the_first_exposure():
    customer, anonymous = Profile(), Profile()
    customer.apply([assigned("hero", "big"), assigned("sort", "on"), exposed("sort", "on", at=5000.0)])
    anonymous.apply([assigned("hero", "small", version=2), assigned("sort", "on", at=900.0), exposed("sort", "on", at=3000.0)])
    customer.merge(anonymous)
    assert customer.assignments == {"hero": Assignment("small", 2, 1000.0), "sort": Assignment("on", 1, 900.0, 3000.0)}
