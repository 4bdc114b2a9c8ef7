"""Choose the payload profile for a connected device from what it reports about itself."""

from __future__ import annotations

from payloads.releases import DEFAULT_PROFILE, ReleaseProfile
from provisioner.transport.netconf import NetconfSession


def release_profile(session: NetconfSession) -> ReleaseProfile:
    """Return the profile for the device behind ``session``.

    TODO: read module revisions from ietf-yang-library (17.10 and later) or the hello (up to
    17.9); until then every device gets the IOS XE 17.12 shape.
    """
    del session
    return DEFAULT_PROFILE
