# SPDX-License-Identifier: LGPL-3.0-or-later
import unittest
from typing import (
    Any,
)

import numpy as np
from dargs import (
    Argument,
)

from deepmd.dpmodel.descriptor.dpa1 import DescrptDPA1 as DescrptDPA1DP
from deepmd.env import (
    GLOBAL_NP_FLOAT_PRECISION,
)

from ..common import (
    INSTALLED_ARRAY_API_STRICT,
    INSTALLED_JAX,
    INSTALLED_PD,
    INSTALLED_PT,
    INSTALLED_PT_EXPT,
    INSTALLED_TF,
    INSTALLED_TF2,
    CommonTest,
    parameterized_cases,
)
from .common import (
    DescriptorAPITest,
    DescriptorTest,
)

if INSTALLED_PT:
    from deepmd.pt.model.descriptor.dpa1 import DescrptDPA1 as DescrptDPA1PT
else:
    DescrptDPA1PT = None
if INSTALLED_TF:
    from deepmd.tf.descriptor.se_atten import DescrptDPA1Compat as DescrptDPA1TF
else:
    DescrptDPA1TF = None
if INSTALLED_TF2:
    from deepmd.tf2.descriptor.dpa1 import DescrptDPA1 as DescrptDPA1TF2
else:
    DescrptDPA1TF2 = None
if INSTALLED_JAX:
    from deepmd.jax.descriptor.dpa1 import DescrptDPA1 as DescriptorDPA1JAX
else:
    DescriptorDPA1JAX = None
if INSTALLED_PD:
    from deepmd.pd.model.descriptor.dpa1 import DescrptDPA1 as DescrptDPA1PD
else:
    DescrptDPA1PD = None
if INSTALLED_PT_EXPT:
    from deepmd.pt_expt.descriptor.dpa1 import DescrptDPA1 as DescrptDPA1PTExpt
else:
    DescrptDPA1PTExpt = None
if INSTALLED_ARRAY_API_STRICT:
    from ...array_api_strict.descriptor.dpa1 import DescrptDPA1 as DescriptorDPA1Strict
else:
    DescriptorDPA1Strict = None
from deepmd.utils.argcheck import (
    descrpt_se_atten_args,
)

DPA1_CASE_FIELDS = (
    "tebd_dim",
    "tebd_input_mode",
    "resnet_dt",
    "type_one_side",
    "attn",
    "attn_layer",
    "attn_dotr",
    "excluded_types",
    "env_protection",
    "set_davg_zero",
    "scaling_factor",
    "normalize",
    "temperature",
    "ln_eps",
    "smooth_type_embedding",
    "concat_output_tebd",
    "precision",
    "use_econf_tebd",
    "use_tebd_bias",
)


DPA1_BASELINE_CASE = {
    "tebd_dim": 4,
    "tebd_input_mode": "concat",
    "resnet_dt": True,
    "type_one_side": True,
    "attn": 20,
    "attn_layer": 2,
    "attn_dotr": True,
    "excluded_types": [],
    "env_protection": 0.0,
    "set_davg_zero": True,
    "scaling_factor": 1.0,
    "normalize": True,
    "temperature": 1.0,
    "ln_eps": 1e-5,
    "smooth_type_embedding": True,
    "concat_output_tebd": True,
    "precision": "float64",
    "use_econf_tebd": False,
    "use_tebd_bias": False,
}


def dpa1_case(**overrides: Any) -> tuple:
    case = DPA1_BASELINE_CASE | overrides
    return tuple(case[field] for field in DPA1_CASE_FIELDS)


DPA1_CURATED_CASES = (
    # Baseline coverage.
    dpa1_case(),
    # Alternate tebd input plumbing.
    dpa1_case(tebd_input_mode="strip"),
    # High-risk descriptor toggles.
    dpa1_case(excluded_types=[[0, 1]]),
    dpa1_case(set_davg_zero=False),
    dpa1_case(normalize=False),
    # Attention edge cases: disabled temperature path vs zero-layer path.
    dpa1_case(temperature=None),
    dpa1_case(attn_layer=0, temperature=None),
    # econf-specific path with both tebd input modes.
    dpa1_case(use_econf_tebd=True),
    dpa1_case(tebd_input_mode="strip", use_econf_tebd=True),
)


@parameterized_cases(*DPA1_CURATED_CASES)
class TestDPA1(CommonTest, DescriptorTest, unittest.TestCase):
    @property
    def data(self) -> dict:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return {
            "sel": [10],
            "rcut_smth": 5.80,
            "rcut": 6.00,
            "neuron": [6, 12, 24],
            "ntypes": self.ntypes,
            "axis_neuron": 3,
            "tebd_dim": tebd_dim,
            "tebd_input_mode": tebd_input_mode,
            "attn": attn,
            "attn_layer": attn_layer,
            "attn_dotr": attn_dotr,
            "attn_mask": False,
            "scaling_factor": scaling_factor,
            "normalize": normalize,
            "temperature": temperature,
            "ln_eps": ln_eps,
            "concat_output_tebd": concat_output_tebd,
            "resnet_dt": resnet_dt,
            "type_one_side": type_one_side,
            "exclude_types": excluded_types,
            "env_protection": env_protection,
            "precision": precision,
            "set_davg_zero": set_davg_zero,
            "smooth_type_embedding": smooth_type_embedding,
            "use_econf_tebd": use_econf_tebd,
            "use_tebd_bias": use_tebd_bias,
            "type_map": ["O", "H"] if use_econf_tebd else None,
            "seed": 1145141919810,
            "trainable": False,
            "activation_function": "relu",
        }

    def is_meaningless_zero_attention_layer_tests(
        self,
        attn_layer: int,
        temperature: float | None,
    ) -> bool:
        return attn_layer == 0 and (temperature is not None)

    @property
    def skip_pt(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return CommonTest.skip_pt or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    @property
    def skip_dp(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return CommonTest.skip_dp or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    @property
    def skip_pd(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return not INSTALLED_PD or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    @property
    def skip_jax(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return not INSTALLED_JAX or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    @property
    def skip_array_api_strict(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return (
            not INSTALLED_ARRAY_API_STRICT
            or self.is_meaningless_zero_attention_layer_tests(
                attn_layer,
                temperature,
            )
        )

    @property
    def skip_pt_expt(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return (
            CommonTest.skip_pt_expt
            or self.is_meaningless_zero_attention_layer_tests(
                attn_layer,
                temperature,
            )
        )

    @property
    def skip_tf(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return (
            CommonTest.skip_tf
            or (
                env_protection != 0.0
                or smooth_type_embedding
                or not normalize
                or temperature != 1.0
                or (type_one_side and tebd_input_mode == "strip")  # not consistent yet
            )
            or self.is_meaningless_zero_attention_layer_tests(
                attn_layer,
                temperature,
            )
        )

    @property
    def skip_tf2(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return not INSTALLED_TF2 or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    tf_class = DescrptDPA1TF
    tf2_class = DescrptDPA1TF2
    dp_class = DescrptDPA1DP
    pt_class = DescrptDPA1PT
    pt_expt_class = DescrptDPA1PTExpt
    pd_class = DescrptDPA1PD
    jax_class = DescriptorDPA1JAX
    array_api_strict_class = DescriptorDPA1Strict

    args = descrpt_se_atten_args().append(Argument("ntypes", int, optional=False))

    def setUp(self) -> None:
        CommonTest.setUp(self)

        self.ntypes = 2
        self.coords = np.array(
            [
                12.83,
                2.56,
                2.18,
                12.09,
                2.87,
                2.74,
                00.25,
                3.32,
                1.68,
                3.36,
                3.00,
                1.81,
                3.51,
                2.51,
                2.60,
                4.27,
                3.22,
                1.56,
            ],
            dtype=GLOBAL_NP_FLOAT_PRECISION,
        )
        self.atype = np.array([0, 1, 1, 0, 1, 1], dtype=np.int32)
        self.box = np.array(
            [13.0, 0.0, 0.0, 0.0, 13.0, 0.0, 0.0, 0.0, 13.0],
            dtype=GLOBAL_NP_FLOAT_PRECISION,
        )
        self.natoms = np.array([6, 6, 2, 4], dtype=np.int32)
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param

    def build_tf(self, obj: Any, suffix: str) -> tuple[list, dict]:
        return self.build_tf_descriptor(
            obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            suffix,
        )

    def eval_dp(self, dp_obj: Any) -> Any:
        return self.eval_dp_descriptor(
            dp_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_pt(self, pt_obj: Any) -> Any:
        return self.eval_pt_descriptor(
            pt_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_jax(self, jax_obj: Any) -> Any:
        return self.eval_jax_descriptor(
            jax_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_pd(self, pd_obj: Any) -> Any:
        return self.eval_pd_descriptor(
            pd_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_pt_expt(self, pt_expt_obj: Any) -> Any:
        return self.eval_pt_expt_descriptor(
            pt_expt_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_tf2(self, tf2_obj: Any) -> Any:
        return self.eval_tf2_descriptor(
            tf2_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def eval_array_api_strict(self, array_api_strict_obj: Any) -> Any:
        return self.eval_array_api_strict_descriptor(
            array_api_strict_obj,
            self.natoms,
            self.coords,
            self.atype,
            self.box,
            mixed_types=True,
        )

    def extract_ret(self, ret: Any, backend) -> tuple[np.ndarray, ...]:
        return (ret[0], ret[1])

    @property
    def rtol(self) -> float:
        """Relative tolerance for comparing the return value."""
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        if precision == "float64":
            return 1e-10
        elif precision == "float32":
            return 1e-4
        else:
            raise ValueError(f"Unknown precision: {precision}")

    @property
    def atol(self) -> float:
        """Absolute tolerance for comparing the return value."""
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        if precision == "float64":
            return 1e-10
        elif precision == "float32":
            return 1e-4
        else:
            raise ValueError(f"Unknown precision: {precision}")


@parameterized_cases(*DPA1_CURATED_CASES)
class TestDPA1DescriptorAPI(DescriptorAPITest, unittest.TestCase):
    """Test consistency of BaseDescriptor API methods across backends."""

    dp_class = DescrptDPA1DP
    pt_class = DescrptDPA1PT
    pt_expt_class = DescrptDPA1PTExpt
    args = descrpt_se_atten_args().append(Argument("ntypes", int, optional=False))

    def is_meaningless_zero_attention_layer_tests(
        self,
        attn_layer: int,
        temperature: float | None,
    ) -> bool:
        return attn_layer == 0 and (temperature is not None)

    @property
    def data(self) -> dict:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return {
            "sel": [10],
            "rcut_smth": 5.80,
            "rcut": 6.00,
            "neuron": [6, 12, 24],
            "ntypes": self.ntypes,
            "axis_neuron": 3,
            "tebd_dim": tebd_dim,
            "tebd_input_mode": tebd_input_mode,
            "attn": attn,
            "attn_layer": attn_layer,
            "attn_dotr": attn_dotr,
            "attn_mask": False,
            "scaling_factor": scaling_factor,
            "normalize": normalize,
            "temperature": temperature,
            "ln_eps": ln_eps,
            "concat_output_tebd": concat_output_tebd,
            "resnet_dt": resnet_dt,
            "type_one_side": type_one_side,
            "exclude_types": excluded_types,
            "env_protection": env_protection,
            "precision": precision,
            "set_davg_zero": set_davg_zero,
            "smooth_type_embedding": smooth_type_embedding,
            "use_econf_tebd": use_econf_tebd,
            "use_tebd_bias": use_tebd_bias,
            "type_map": ["O", "H"] if use_econf_tebd else None,
            "seed": 1145141919810,
            "trainable": False,
            "activation_function": "relu",
        }

    @property
    def skip_pt(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return not INSTALLED_PT or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )

    @property
    def skip_pt_expt(self) -> bool:
        (
            tebd_dim,
            tebd_input_mode,
            resnet_dt,
            type_one_side,
            attn,
            attn_layer,
            attn_dotr,
            excluded_types,
            env_protection,
            set_davg_zero,
            scaling_factor,
            normalize,
            temperature,
            ln_eps,
            smooth_type_embedding,
            concat_output_tebd,
            precision,
            use_econf_tebd,
            use_tebd_bias,
        ) = self.param
        return not INSTALLED_PT_EXPT or self.is_meaningless_zero_attention_layer_tests(
            attn_layer,
            temperature,
        )
