# SPDX-License-Identifier: LGPL-3.0-or-later
"""Test whether DP native, TF, and PT models are consistent."""
