"""A node's preparation for the images a run's tasks name, run here as a node runs it."""

from __future__ import annotations

import types

import pytest

from dgm.executors.nodes import image_of, prepare_node
from sandbox import IMAGE_NAME
from sandbox.image_polyglot import POLYGLOT_IMAGE, polyglot_ready

pytestmark = pytest.mark.docker


def test_the_default_image_and_polyglots_are_made_by_their_profiles(docker_daemon):
    assert prepare_node(None)["image"] == IMAGE_NAME
    if not polyglot_ready():  # building it takes ten minutes: not in this test
        pytest.skip(f"{POLYGLOT_IMAGE} is not built here (dgm sandbox build --profile polyglot)")
    assert prepare_node(POLYGLOT_IMAGE)["image"] == POLYGLOT_IMAGE


def test_an_image_no_profile_makes_must_be_on_the_node(docker_daemon):
    with pytest.raises(RuntimeError, match="dgm-no-such-image:0 is not on this node"):
        prepare_node("dgm-no-such-image:0")
    assert prepare_node(IMAGE_NAME)["image"] == IMAGE_NAME  # a known tag: its profile


def test_a_job_names_its_tasks_image():
    assert image_of(types.SimpleNamespace(task=None)) is None
    task = types.SimpleNamespace(id="cpp/x", image=POLYGLOT_IMAGE)
    assert image_of(types.SimpleNamespace(task=task)) == POLYGLOT_IMAGE
