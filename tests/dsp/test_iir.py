"""mixbuild.stages.dsp.iir.sosfilt against scipy.signal.sosfilt: the same recursion, so the same bits."""

import numpy as np
import pytest
from scipy import signal

from mixbuild.stages.dsp.eq import band_sos
from mixbuild.stages.dsp.iir import initial_state, sosfilt

RATE = 44100
SECTIONS = np.concatenate([band_sos("highpass", 25, RATE, slope_db_per_oct=24), band_sos("low_shelf", 200, RATE, 3.0),
                           band_sos("peak", 2500, RATE, -4.0, q=2.0)])


@pytest.mark.parametrize("shape", [(7001,), (7001, 1), (7001, 2), (7001, 6)])
def test_bit_identical_to_scipy_sosfilt(shape):
    # Same transposed-direct-form-II arithmetic in float64, no FMA contraction: exact equality, not a tolerance.
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(sosfilt(SECTIONS, x), signal.sosfilt(SECTIONS, x.astype(np.float64), axis=0))


def test_blocks_with_carried_state_equal_one_call():
    x = np.random.default_rng(2).standard_normal((3 * 4096 + 999, 2))
    state = initial_state(SECTIONS, 2)
    blocks = [sosfilt(SECTIONS, x[start:start + 4096], state) for start in range(0, x.shape[0], 4096)]
    np.testing.assert_array_equal(np.concatenate(blocks), sosfilt(SECTIONS, x))
    _, scipy_state = signal.sosfilt(SECTIONS, x, axis=0, zi=np.zeros((SECTIONS.shape[0], 2, 2)))
    np.testing.assert_array_equal(state, np.moveaxis(scipy_state, 1, 2))  # scipy keeps (sections, 2, channels)


def test_input_is_not_modified_and_errors_name_the_argument():
    x = np.ones((10, 2))
    sosfilt(SECTIONS, x)
    assert (x == 1.0).all()
    with pytest.raises(ValueError, match=r"^sos: must have shape \(n_sections, 6\)"):
        sosfilt(SECTIONS[:, :5], x)
    with pytest.raises(ValueError, match=r"^state: must be float64 of shape \(4, 2, 2\)"):
        sosfilt(SECTIONS, x, np.zeros((5, 1, 2)))
    with pytest.raises(ValueError, match=r"^x: must be"):
        sosfilt(SECTIONS, np.zeros((2, 2, 2)))
