"""The benchmark's task table: one entry per task. `generate.py` turns it into tasks/<category>/<id>.py.

Entry fields: id, cat, op, doc, shapes {NAME: tuple}, inputs [{name, shape (a NAME), dtype, dist...}],
init (lines of Model.__init__), forward (return expression over the input names), mech (cpu|geometry|combiner),
optional: tol + tol_reason, native_incorrect, opset, export, kit (uses onnx_op), pre (module-level lines).
"""

ACT = {"SHAPE": (1, 128, 768)}
IMG = {"SHAPE": (1, 32, 56, 56)}


def f32(name="x", shape="SHAPE", low=-1.0, high=1.0, edge=()):
    d = {"name": name, "shape": shape, "dtype": "float32", "dist": "uniform", "low": low, "high": high}
    if edge:
        d["edge"] = edge
    return d


def i32(name, shape="SHAPE", low=-100, high=100, dtype="int32"):
    return {"name": name, "shape": shape, "dtype": dtype, "dist": "randint", "low": low, "high": high}


def boolean(name, shape="SHAPE", p=0.5):
    return {"name": name, "shape": shape, "dtype": "bool", "dist": "bool", "p": p}


TASKS = []


def task(**kw):
    TASKS.append(kw)


TRANSCENDENTAL = "transcendental function: MNN and PyTorch use different polynomial approximations (relative error ~1e-6, absolute error grows with |y|)"

# ---------------------------------------------------------------- Unary (11 ops, 11 tasks)
ROUND_BUG = "MNN rounds halves away from zero (0.5 -> 1, 2.5 -> 3); ONNX and PyTorch round half to even"
for op, fn, low, high, edge, tol in [
    ("Abs", "torch.abs(x)", -10.0, 10.0, (0.0, -0.0), None),
    ("Neg", "torch.neg(x)", -10.0, 10.0, (0.0, -0.0), None),
    ("Exp", "torch.exp(x)", -10.0, 10.0, (0.0,), TRANSCENDENTAL),
    ("Log", "torch.log(x)", 0.001, 100.0, (1.0,), TRANSCENDENTAL),
    ("Sqrt", "torch.sqrt(x)", 0.0, 100.0, (0.0, 1.0), None),
    ("Reciprocal", "torch.reciprocal(x)", 0.1, 10.0, (1.0,), None),
    ("Ceil", "torch.ceil(x)", -10.0, 10.0, (0.0, -0.5, 2.0), None),
    ("Floor", "torch.floor(x)", -10.0, 10.0, (0.0, -0.5, 2.0), None),
    ("Round", "torch.round(x)", -10.0, 10.0, (0.5, 1.5, 2.5, -0.5, -2.5), None),
    ("Sign", "torch.sign(x)", -10.0, 10.0, (0.0,), None),
    ("Erf", "torch.erf(x)", -3.0, 3.0, (0.0,), TRANSCENDENTAL),
]:
    task(
        id=op.lower(), cat="Unary", op=op, doc=f"Elementwise {op} of a transformer activation tensor [1, 128, 768].",
        shapes=ACT, inputs=[f32(low=low, high=high, edge=edge)], forward=fn, mech="cpu",
        tol=1e-3 if tol else None, tol_reason=tol, native_incorrect=ROUND_BUG if op == "Round" else None,
    )

# ---------------------------------------------------------------- Binary (7 ops, 8 tasks)
for op, fn, low, high in [
    ("Add", "a + b", -10.0, 10.0),
    ("Sub", "a - b", -10.0, 10.0),
    ("Mul", "a * b", -10.0, 10.0),
    ("Div", "a / b", 0.5, 10.0),
    ("Pow", "torch.pow(a, b)", 0.1, 3.0),
    ("Max", "torch.maximum(a, b)", -10.0, 10.0),
    ("Min", "torch.minimum(a, b)", -10.0, 10.0),
]:
    task(
        id=op.lower(), cat="Binary", op=op, doc=f"Elementwise {op} of two same-shape activation tensors [1, 128, 768].",
        shapes=ACT, inputs=[f32("a", low=low, high=high), f32("b", low=low, high=high)], forward=fn, mech="cpu",
        tol=1e-3 if op == "Pow" else None, tol_reason=TRANSCENDENTAL if op == "Pow" else None,
    )
task(id="add_nchw", cat="Binary", op="Add", doc="Residual Add of two feature maps [1, 32, 56, 56] (4-D form).",
     shapes=IMG, inputs=[f32("a"), f32("b")], forward="a + b", mech="cpu")

# ---------------------------------------------------------------- Trigonometry (12 ops, 12 tasks)
for op, fn, low, high, native in [
    ("Sin", "torch.sin(x)", -6.3, 6.3, True), ("Cos", "torch.cos(x)", -6.3, 6.3, True), ("Tan", "torch.tan(x)", -1.5, 1.5, True),
    ("Asin", "torch.asin(x)", -0.99, 0.99, True), ("Acos", "torch.acos(x)", -0.99, 0.99, True), ("Atan", "torch.atan(x)", -10.0, 10.0, True),
    ("Sinh", "torch.sinh", -5.0, 5.0, False), ("Cosh", "torch.cosh", -5.0, 5.0, False), ("Tanh", "torch.tanh(x)", -5.0, 5.0, True),
    ("Asinh", "torch.asinh", -10.0, 10.0, False), ("Acosh", "torch.acosh", 1.0, 10.0, False), ("Atanh", "torch.atanh", -0.99, 0.99, False),
]:
    entry = dict(
        id=op.lower(), cat="Trigonometry", op=op, doc=f"Elementwise {op} over [1, 128, 768].", shapes=ACT,
        inputs=[f32(low=low, high=high)], mech="cpu", tol=1e-3, tol_reason=TRANSCENDENTAL,
    )
    if native:
        entry["forward"] = fn
    else:  # torch's exporter has no mapping for these: export the one ONNX op explicitly
        entry["kit"] = True
        entry["pre"] = [f'{op.upper()} = onnx_op("{op}", {fn})']
        entry["forward"] = f"{op.upper()}(x)"
    task(**entry)

# ---------------------------------------------------------------- Activation (8 ops, 12 tasks)
task(id="relu", cat="Activation", op="Relu", doc="ReLU over [1, 128, 768].", shapes=ACT, inputs=[f32(edge=(0.0, -0.0))], forward="torch.relu(x)", mech="cpu")
task(id="relu_nchw", cat="Activation", op="Relu", doc="ReLU after a conv layer, [1, 32, 56, 56].", shapes=IMG, inputs=[f32()], forward="torch.relu(x)", mech="cpu")
task(id="leakyrelu", cat="Activation", op="LeakyRelu", doc="LeakyReLU (alpha 0.01) over [1, 128, 768].", shapes=ACT, inputs=[f32()], forward="F.leaky_relu(x, 0.01)", mech="cpu")
task(id="leakyrelu_alpha02_nchw", cat="Activation", op="LeakyRelu", doc="LeakyReLU (alpha 0.2, as in YOLO heads) over [1, 32, 56, 56].", shapes=IMG, inputs=[f32()], forward="F.leaky_relu(x, 0.2)", mech="cpu")
task(id="prelu_channel", cat="Activation", op="PRelu", doc="PReLU with one learned slope per channel (slope [1, C, 1, 1]) over [1, 32, 56, 56].",
     shapes=IMG, inputs=[f32()], kit=True, mech="cpu",
     init=["self.slope = nn.Parameter(torch.rand(1, SHAPE[1], 1, 1) * 0.5)"],
     pre=['PRELU = onnx_op("PRelu", lambda x, s: torch.where(x >= 0, x, x * s))'],
     forward="PRELU(x, self.slope)")
task(id="sigmoid", cat="Activation", op="Sigmoid", doc="Sigmoid over [1, 128, 768].", shapes=ACT, inputs=[f32(low=-8.0, high=8.0)], forward="torch.sigmoid(x)", mech="cpu", tol=1e-3, tol_reason=TRANSCENDENTAL)
task(id="hardswish", cat="Activation", op="HardSwish", doc="HardSwish (MobileNetV3) over [1, 32, 56, 56].", shapes=IMG, inputs=[f32(low=-5.0, high=5.0, edge=(-3.0, 3.0, 0.0))], forward="F.hardswish(x)", mech="cpu")
task(id="softmax_lastdim", cat="Activation", op="Softmax", doc="Softmax over the last axis of attention scores [1, 12, 128, 128].",
     shapes={"SHAPE": (1, 12, 128, 128)}, inputs=[f32(low=-5.0, high=5.0)], forward="torch.softmax(x, dim=-1)", mech="cpu", tol=1e-3, tol_reason=TRANSCENDENTAL)
task(id="softmax_axis1", cat="Activation", op="Softmax", doc="Softmax over the channel axis of [1, 32, 56, 56] (segmentation head).",
     shapes=IMG, inputs=[f32(low=-5.0, high=5.0)], forward="torch.softmax(x, dim=1)", mech="cpu", tol=1e-3, tol_reason=TRANSCENDENTAL)
task(id="clip_relu6", cat="Activation", op="Clip", doc="Clip to [0, 6] (ReLU6 in MobileNet) over [1, 32, 56, 56].", shapes=IMG, inputs=[f32(low=-10.0, high=10.0, edge=(0.0, 6.0))], forward="torch.clamp(x, 0.0, 6.0)", mech="cpu")
task(id="clip_symmetric", cat="Activation", op="Clip", doc="Clip to [-1, 1] (hard tanh) over [1, 128, 768].", shapes=ACT, inputs=[f32(low=-3.0, high=3.0, edge=(-1.0, 1.0))], forward="torch.clamp(x, -1.0, 1.0)", mech="cpu")
task(id="gelu_tanh", cat="Activation", op="Gelu", doc="GELU, tanh approximation (approximate='tanh'), over [1, 128, 3072] (BERT FFN). The exact (erf) form is converted by MNN to this tanh form, so the tanh form is the one MNN computes correctly.",
     shapes={"SHAPE": (1, 128, 3072)}, inputs=[f32(low=-5.0, high=5.0)], forward='F.gelu(x, approximate="tanh")', mech="cpu", tol=1e-3, tol_reason="MNN's GELU kernel evaluates tanh with its own approximation (measured max abs error 1.8e-4)")

# ---------------------------------------------------------------- Normalization (4 ops, 12 tasks)
for tid, shape, doc in [
    ("layernorm_bert", (1, 128, 768), "LayerNorm over the hidden axis of [1, 128, 768] (BERT-base)."),
    ("layernorm_small", (4, 49, 384), "LayerNorm over [4, 49, 384] (a Swin-T window stage)."),
    ("layernorm_vit", (1, 197, 192), "LayerNorm over [1, 197, 192] (ViT-Tiny tokens)."),
    ("layernorm_wide", (1, 64, 2048), "LayerNorm over [1, 64, 2048] (a wide MLP)."),
]:
    task(id=tid, cat="Normalization", op="LayerNormalization", doc=doc, shapes={"SHAPE": shape}, inputs=[f32(low=-3.0, high=3.0)], mech="cpu",
         init=["self.norm = nn.LayerNorm(SHAPE[-1], eps=1e-5)", "nn.init.uniform_(self.norm.weight, 0.5, 1.5)", "nn.init.uniform_(self.norm.bias, -0.5, 0.5)"],
         forward="self.norm(x)", tol=1e-3, tol_reason="a mean and variance over hundreds of values: summation order differs between MNN and PyTorch")
task(id="layernorm_2d", cat="Normalization", op="LayerNormalization", doc="LayerNorm over the last two axes of [8, 64, 64] (normalized_shape [64, 64]).",
     shapes={"SHAPE": (8, 64, 64)}, inputs=[f32(low=-3.0, high=3.0)], mech="cpu",
     init=["self.norm = nn.LayerNorm([SHAPE[-2], SHAPE[-1]], eps=1e-5)", "nn.init.uniform_(self.norm.weight, 0.5, 1.5)", "nn.init.uniform_(self.norm.bias, -0.5, 0.5)"],
     forward="self.norm(x)", tol=1e-3, tol_reason="a mean and variance over 4096 values: summation order differs between MNN and PyTorch")
for tid, shape, doc in [
    ("batchnorm_nchw", (1, 32, 56, 56), "Inference BatchNorm (running statistics) over [1, 32, 56, 56]."),
    ("batchnorm_wide", (1, 128, 28, 28), "Inference BatchNorm over [1, 128, 28, 28]."),
    ("batchnorm_batch4", (4, 64, 16, 16), "Inference BatchNorm over a batch of 4, [4, 64, 16, 16]."),
]:
    task(id=tid, cat="Normalization", op="BatchNormalization", doc=doc, shapes={"SHAPE": shape}, inputs=[f32(low=-3.0, high=3.0)], mech="cpu",
         init=["self.norm = nn.BatchNorm2d(SHAPE[1])", "nn.init.uniform_(self.norm.weight, 0.5, 1.5)", "nn.init.uniform_(self.norm.bias, -0.5, 0.5)",
               "self.norm.running_mean.uniform_(-0.5, 0.5)", "self.norm.running_var.uniform_(0.5, 2.0)"],
         forward="self.norm(x)")
for tid, shape, doc in [
    ("instancenorm", (1, 32, 56, 56), "InstanceNorm with affine parameters over [1, 32, 56, 56] (style transfer)."),
    ("instancenorm_batch2", (2, 64, 32, 32), "InstanceNorm with affine parameters over [2, 64, 32, 32]."),
]:
    task(id=tid, cat="Normalization", op="InstanceNormalization", doc=doc + " MNN's converter rewrites it into LayerNorm + Scale (a combiner).",
         shapes={"SHAPE": shape}, inputs=[f32(low=-3.0, high=3.0)], mech="combiner",
         init=["self.norm = nn.InstanceNorm2d(SHAPE[1], affine=True)", "nn.init.uniform_(self.norm.weight, 0.5, 1.5)", "nn.init.uniform_(self.norm.bias, -0.5, 0.5)"],
         forward="self.norm(x)", tol=1e-3, tol_reason="a mean and variance over thousands of values: summation order differs")
for tid, size, doc in [("lrn_size5", 5, "Local response normalization (AlexNet, size 5) over [1, 32, 56, 56]."),
                       ("lrn_size3", 3, "Local response normalization (size 3) over [1, 32, 56, 56].")]:
    task(id=tid, cat="Normalization", op="LRN", doc=doc + " MNN lowers LRN to pooling and elementwise ops (geometry).",
         # activations large enough that the normalisation acts: on [-3, 3] its factor is 0.9998 and a copy of the
         # input passed the tolerance on every seed (the trivial-output audit, mkb_tui/bench/trivial.py)
         shapes=IMG, inputs=[f32(low=-30.0, high=30.0)], mech="geometry", kit=True,
         pre=[f'LRN = onnx_op("LRN", lambda x: F.local_response_norm(x, {size}, alpha=1e-4, beta=0.75, k=1.0), attrs={{"size_i": {size}, "alpha_f": 1e-4, "beta_f": 0.75, "bias_f": 1.0}})'],
         forward="LRN(x)", tol=1e-3, tol_reason="pow(., 0.75) evaluated with different approximations")

# ---------------------------------------------------------------- Pooling (4 ops, 15 tasks)
for tid, mod, shape, doc in [
    ("maxpool_k2s2", "nn.MaxPool2d(2, 2)", (1, 32, 56, 56), "2x2 max pooling, stride 2."),
    ("maxpool_k3s2p1", "nn.MaxPool2d(3, 2, 1)", (1, 64, 56, 56), "3x3 max pooling, stride 2, pad 1 (ResNet stem)."),
    ("maxpool_k3s1p1", "nn.MaxPool2d(3, 1, 1)", (1, 32, 28, 28), "3x3 max pooling, stride 1, pad 1 (YOLO SPP)."),
    ("maxpool_k5s1p2", "nn.MaxPool2d(5, 1, 2)", (1, 32, 20, 20), "5x5 max pooling, stride 1, pad 2 (YOLOv5 SPPF)."),
    ("maxpool_ceil", "nn.MaxPool2d(3, 2, ceil_mode=True)", (1, 32, 55, 55), "3x3 max pooling, stride 2, ceil mode (SqueezeNet)."),
    ("maxpool1d_k2", "nn.MaxPool1d(2, 2)", (4, 64, 256), "1-D max pooling over a sequence [4, 64, 256]."),
    ("avgpool_k2s2", "nn.AvgPool2d(2, 2)", (1, 32, 56, 56), "2x2 average pooling, stride 2 (DenseNet transition)."),
    ("avgpool_k3s2p1_excl", "nn.AvgPool2d(3, 2, 1, count_include_pad=False)", (1, 32, 56, 56), "3x3 average pooling, stride 2, pad 1, padding excluded from the count."),
    ("avgpool_k3s1p1_incl", "nn.AvgPool2d(3, 1, 1, count_include_pad=True)", (1, 32, 28, 28), "3x3 average pooling, stride 1, pad 1, padding included in the count."),
    ("avgpool_k7", "nn.AvgPool2d(7)", (1, 256, 7, 7), "7x7 average pooling of the last ResNet feature map."),
    ("avgpool1d_k3", "nn.AvgPool1d(3, 1, 1)", (4, 128, 256), "1-D average pooling (kernel 3, pad 1) over [4, 128, 256]."),
]:
    op = "MaxPool" if "Max" in mod else "AveragePool"
    task(id=tid, cat="Pooling", op=op, doc=doc, shapes={"SHAPE": shape}, inputs=[f32()], mech="cpu", init=[f"self.pool = {mod}"], forward="self.pool(x)")
for tid, shape in [("globalavgpool", (1, 256, 14, 14)), ("globalavgpool_wide", (1, 1280, 7, 7))]:
    task(id=tid, cat="Pooling", op="GlobalAveragePool", doc=f"Global average pooling of {list(shape)} (classifier head).", shapes={"SHAPE": shape},
         inputs=[f32()], mech="geometry", init=["self.pool = nn.AdaptiveAvgPool2d(1)"], forward="self.pool(x)")
for tid, shape in [("globalmaxpool", (1, 256, 14, 14)), ("globalmaxpool_small", (2, 64, 28, 28))]:
    task(id=tid, cat="Pooling", op="GlobalMaxPool", doc=f"Global max pooling of {list(shape)}.", shapes={"SHAPE": shape},
         inputs=[f32()], mech="geometry", kit=True, pre=['GMP = onnx_op("GlobalMaxPool", lambda x: torch.amax(x, dim=(2, 3), keepdim=True))'], forward="GMP(x)")

# ---------------------------------------------------------------- Convolution (2 ops, 21 tasks)
WINOGRAD = "MNN computes 3x3 (and larger) stride-1 convolutions with Winograd transforms: rounding differs (measured up to 3.5e-3 abs on sums of 288+ products)"
SUMS = "sums of hundreds of products: accumulation order differs between MNN and PyTorch"
for tid, args, shape, doc, tol in [
    ("conv1x1", "32, 64, 1", (1, 32, 56, 56), "Pointwise 1x1 convolution 32->64.", SUMS),
    ("conv1x1_expand", "16, 96, 1", (1, 16, 56, 56), "Pointwise expansion 16->96 (MobileNetV2 block).", SUMS),
    ("conv1x1_project", "144, 24, 1, bias=False", (1, 144, 28, 28), "Pointwise projection 144->24 without bias.", SUMS),
    ("conv3x3_p1", "32, 64, 3, padding=1", (1, 32, 56, 56), "3x3 convolution 32->64, pad 1.", WINOGRAD),
    ("conv3x3_s2", "32, 64, 3, stride=2, padding=1", (1, 32, 56, 56), "3x3 convolution, stride 2 (downsampling).", SUMS),
    ("conv3x3_dil2", "32, 32, 3, padding=2, dilation=2", (1, 32, 56, 56), "3x3 dilated convolution (dilation 2, DeepLab).", SUMS),
    ("conv3x3_nobias", "64, 64, 3, padding=1, bias=False", (1, 64, 28, 28), "3x3 convolution 64->64 without bias (ResNet block).", WINOGRAD),
    ("conv3x3_stem", "3, 16, 3, stride=2, padding=1", (1, 3, 224, 224), "3x3 stride-2 stem on an RGB image 224x224.", SUMS),
    ("conv5x5", "16, 32, 5, padding=2", (1, 16, 56, 56), "5x5 convolution 16->32.", WINOGRAD),
    ("conv7x7_s2_stem", "3, 64, 7, stride=2, padding=3", (1, 3, 224, 224), "7x7 stride-2 ResNet stem.", SUMS),
    ("conv1x3", "32, 32, (1, 3), padding=(0, 1)", (1, 32, 56, 56), "Asymmetric 1x3 convolution (Inception factorisation).", SUMS),
    ("conv3x1", "32, 32, (3, 1), padding=(1, 0)", (1, 32, 56, 56), "Asymmetric 3x1 convolution.", SUMS),
    ("conv_depthwise3x3", "32, 32, 3, padding=1, groups=32", (1, 32, 56, 56), "Depthwise 3x3 convolution (MobileNet).", None),
    ("conv_depthwise3x3_s2", "96, 96, 3, stride=2, padding=1, groups=96", (1, 96, 56, 56), "Depthwise 3x3 stride-2 convolution.", None),
    ("conv_depthwise5x5", "64, 64, 5, padding=2, groups=64", (1, 64, 28, 28), "Depthwise 5x5 convolution (EfficientNet).", None),
]:
    task(id=tid, cat="Convolution", op="Conv", doc=doc + f" Input {list(shape)}.", shapes={"SHAPE": shape}, inputs=[f32()], mech="cpu",
         init=[f"self.conv = nn.Conv2d({args})"], forward="self.conv(x)", tol=(1e-2 if tol == WINOGRAD else 1e-3) if tol else None, tol_reason=tol)
for tid, args, shape, doc, tol in [
    ("convtranspose_k2s2", "32, 16, 2, stride=2", (1, 32, 28, 28), "2x2 stride-2 transposed convolution 32->16 (U-Net upsampling).", SUMS),
    ("convtranspose_k3s2p1", "32, 16, 3, stride=2, padding=1, output_padding=1", (1, 32, 28, 28), "3x3 stride-2 transposed convolution with output padding.", SUMS),
    ("convtranspose_k4s2p1", "64, 32, 4, stride=2, padding=1", (1, 64, 14, 14), "4x4 stride-2 transposed convolution (DCGAN).", SUMS),
    ("convtranspose_k3s1p1", "32, 32, 3, padding=1", (1, 32, 28, 28), "3x3 stride-1 transposed convolution.", SUMS),
    ("convtranspose_nobias", "16, 8, 2, stride=2, bias=False", (1, 16, 56, 56), "2x2 stride-2 transposed convolution without bias.", None),
    ("convtranspose_depthwise", "32, 32, 4, stride=2, padding=1, groups=32", (1, 32, 28, 28), "Depthwise 4x4 stride-2 transposed convolution (learned upsampling).", None),
]:
    task(id=tid, cat="Convolution", op="ConvTranspose", doc=doc + f" Input {list(shape)}.", shapes={"SHAPE": shape}, inputs=[f32()], mech="cpu",
         init=[f"self.deconv = nn.ConvTranspose2d({args})"], forward="self.deconv(x)", tol=1e-3 if tol else None, tol_reason=tol)

# ---------------------------------------------------------------- Matrix (4 ops, 19 tasks)
MM = "dot products of hundreds of terms: accumulation order and blocking differ"
for tid, sa, sb, doc, mech in [
    ("matmul_2d", (256, 512), (512, 256), "2-D MatMul [256, 512] x [512, 256].", "cpu"),
    ("matmul_2d_square", (384, 384), (384, 384), "Square MatMul [384, 384] x [384, 384].", "cpu"),
    ("matmul_vec", (1, 768), (768, 768), "Vector-matrix product [1, 768] x [768, 768] (batch-1 decoding).", "cpu"),
    ("matmul_batched", (8, 64, 128), (8, 128, 64), "Batched MatMul [8, 64, 128] x [8, 128, 64].", "geometry"),
    ("matmul_attention_qk", (1, 12, 128, 64), (1, 12, 64, 128), "Attention scores Q x K^T, [1, 12, 128, 64] x [1, 12, 64, 128].", "geometry"),
    ("matmul_attention_av", (1, 12, 128, 128), (1, 12, 128, 64), "Attention output P x V, [1, 12, 128, 128] x [1, 12, 128, 64].", "geometry"),
    ("matmul_broadcast", (4, 128, 256), (256, 128), "Broadcast MatMul [4, 128, 256] x [256, 128] (a shared weight as input).", "geometry"),
]:
    task(id=tid, cat="Matrix", op="MatMul", doc=doc, shapes={"SHAPE_A": sa, "SHAPE_B": sb}, inputs=[f32("a", "SHAPE_A"), f32("b", "SHAPE_B")],
         mech=mech, forward="torch.matmul(a, b)", tol=1e-3, tol_reason=MM)
for tid, fwd, sa, sb, doc in [
    ("gemm_bias", "torch.addmm(c, a, b)", (128, 256), (256, 128), "Gemm A x B + C with a runtime bias."),
    ("gemm_alpha_beta", "torch.addmm(c, a, b, beta=0.5, alpha=2.0)", (64, 256), (256, 64), "Gemm 2.0 * A x B + 0.5 * C."),
    ("gemm_transb", "torch.addmm(c, a, b.t())", (128, 256), (128, 256), "Gemm A x B^T + C (B stored transposed, as a Linear weight)."),
    ("gemm_transa", "torch.addmm(c, a.t(), b)", (256, 128), (256, 64), "Gemm A^T x B + C."),
    ("gemm_fc", "torch.addmm(c, a, b)", (1, 1024), (1024, 1000), "Classifier head: [1, 1024] x [1024, 1000] + bias."),
]:
    n = sb[0] if "b.t()" in fwd else sb[1]
    m = sa[1] if "a.t()" in fwd else sa[0]
    task(id=tid, cat="Matrix", op="Gemm", doc=doc, shapes={"SHAPE_A": sa, "SHAPE_B": sb, "SHAPE_C": (m, n)},
         inputs=[f32("a", "SHAPE_A"), f32("b", "SHAPE_B"), f32("c", "SHAPE_C")], mech="cpu", forward=fwd, tol=1e-3, tol_reason=MM, kit=True,
         pre=[f'GEMM = onnx_op("Gemm", lambda a, b, c: {fwd}, attrs={{"alpha_f": {2.0 if "alpha" in fwd else 1.0}, "beta_f": {0.5 if "beta" in fwd else 1.0}, "transA_i": {1 if "a.t()" in fwd else 0}, "transB_i": {1 if "b.t()" in fwd else 0}}})'],
         forward_override="GEMM(a, b, c)")
for tid, eq, sa, sb, doc in [
    ("einsum_bmm", "bij,bjk->bik", (8, 64, 32), (8, 32, 64), "Einsum bij,bjk->bik (batched matmul)."),
    ("einsum_attention", "bhqd,bhkd->bhqk", (1, 8, 64, 32), (1, 8, 64, 32), "Einsum bhqd,bhkd->bhqk (attention scores, K not transposed)."),
    ("einsum_matmul", "ij,jk->ik", (128, 256), (256, 128), "Einsum ij,jk->ik."),
    ("einsum_outer_batched", "bi,bj->bij", (16, 64), (16, 64), "Einsum bi,bj->bij (batched outer product)."),
]:
    task(id=tid, cat="Matrix", op="Einsum", doc=doc, shapes={"SHAPE_A": sa, "SHAPE_B": sb}, inputs=[f32("a", "SHAPE_A"), f32("b", "SHAPE_B")],
         mech="combiner" if eq in ("ij,jk->ik", "bi,bj->bij") else "geometry", forward=f'torch.einsum("{eq}", a, b)', tol=1e-3, tol_reason=MM)
for tid, shape, doc in [
    ("det_3x3", (512, 3, 3), "Determinants of 512 3x3 matrices (camera geometry)."),
    ("det_4x4", (256, 4, 4), "Determinants of 256 4x4 matrices (homogeneous transforms)."),
    ("det_8x8", (64, 8, 8), "Determinants of 64 8x8 matrices."),
]:
    task(id=tid, cat="Matrix", op="Det", doc=doc, shapes={"SHAPE": shape}, inputs=[f32()], mech="cpu", forward="torch.linalg.det(x)",
         tol=1e-3, tol_reason="LU factorisation with pivoting: rounding differs, small determinants lose relative precision")

# ---------------------------------------------------------------- Reduction (10 ops, 35 tasks)
RED = "sums of hundreds of values: accumulation order differs"
for tid, op, fwd, shape, doc, tol in [
    ("reducesum_lastdim", "ReduceSum", "x.sum(dim=-1)", (1, 128, 768), "Sum over the last axis.", RED),
    ("reducesum_lastdim_keepdims", "ReduceSum", "x.sum(dim=-1, keepdim=True)", (1, 128, 768), "Sum over the last axis, keepdims.", RED),
    ("reducesum_axis1", "ReduceSum", "x.sum(dim=1)", (4, 128, 256), "Sum over axis 1 (sequence pooling).", RED),
    ("reducesum_spatial", "ReduceSum", "x.sum(dim=(2, 3), keepdim=True)", (1, 64, 28, 28), "Sum over H and W, keepdims.", RED),
    ("reducesum_all", "ReduceSum", "x.sum()", (64, 1024), "Sum of all elements.", "a sum of 65536 values: accumulation order differs"),
    ("reducesum_axis0", "ReduceSum", "x.sum(dim=0)", (256, 1000), "Sum over axis 0.", None),
    ("reducemean_lastdim", "ReduceMean", "x.mean(dim=-1)", (1, 128, 768), "Mean over the last axis.", None),
    ("reducemean_lastdim_keepdims", "ReduceMean", "x.mean(dim=-1, keepdim=True)", (1, 128, 768), "Mean over the last axis, keepdims.", None),
    ("reducemean_spatial", "ReduceMean", "x.mean(dim=(2, 3), keepdim=True)", (1, 64, 28, 28), "Mean over H and W, keepdims (squeeze-and-excitation).", None),
    ("reducemean_axis1", "ReduceMean", "x.mean(dim=1)", (4, 128, 256), "Mean over axis 1.", None),
    ("reducemean_channels", "ReduceMean", "x.mean(dim=1, keepdim=True)", (1, 64, 28, 28), "Mean over channels, keepdims (spatial attention).", None),
    ("reducemax_lastdim", "ReduceMax", "x.amax(dim=-1)", (1, 128, 768), "Max over the last axis.", None),
    ("reducemax_lastdim_keepdims", "ReduceMax", "x.amax(dim=-1, keepdim=True)", (1, 128, 768), "Max over the last axis, keepdims (softmax stabiliser).", None),
    ("reducemax_spatial", "ReduceMax", "x.amax(dim=(2, 3))", (1, 64, 28, 28), "Max over H and W.", None),
    ("reducemax_axis0", "ReduceMax", "x.amax(dim=0)", (64, 1024), "Max over axis 0.", None),
    ("reducemin_lastdim", "ReduceMin", "x.amin(dim=-1)", (1, 128, 768), "Min over the last axis.", None),
    ("reducemin_axis1_keepdims", "ReduceMin", "x.amin(dim=1, keepdim=True)", (4, 128, 256), "Min over axis 1, keepdims.", None),
    ("reducemin_spatial", "ReduceMin", "x.amin(dim=(2, 3))", (1, 64, 28, 28), "Min over H and W.", None),
    ("reduceprod_lastdim", "ReduceProd", "x.prod(dim=-1)", (64, 32), "Product over the last axis (values near 1).", "a product of 32 values: rounding compounds"),
    ("reduceprod_axis1_keepdims", "ReduceProd", "x.prod(dim=1, keepdim=True)", (16, 24, 32), "Product over axis 1, keepdims.", "a product of 24 values: rounding compounds"),
]:
    low, high = (0.9, 1.1) if op == "ReduceProd" else (-1.0, 1.0)
    mech = "cpu"
    task(id=tid, cat="Reduction", op=op, doc=doc + f" Input {list(shape)}.", shapes={"SHAPE": shape}, inputs=[f32(low=low, high=high)], mech=mech,
         forward=fwd, tol=1e-3 if tol else None, tol_reason=tol)
for tid, op, fwd, shape, doc in [
    ("argmax_lastdim", "ArgMax", "torch.argmax(x, dim=-1)", (1, 128, 768), "Index of the max over the last axis (greedy decoding)."),
    ("argmax_axis1", "ArgMax", "torch.argmax(x, dim=1)", (4, 128, 256), "Index of the max over axis 1."),
    ("argmax_lastdim_keepdims", "ArgMax", "torch.argmax(x, dim=-1, keepdim=True)", (8, 1000), "Index of the max over 1000 classes, keepdims."),
    ("argmax_channels", "ArgMax", "torch.argmax(x, dim=1)", (1, 21, 64, 64), "Per-pixel class (semantic segmentation argmax over 21 classes)."),
    ("argmin_lastdim", "ArgMin", "torch.argmin(x, dim=-1)", (1, 128, 768), "Index of the min over the last axis."),
    ("argmin_axis1", "ArgMin", "torch.argmin(x, dim=1)", (4, 128, 256), "Index of the min over axis 1."),
    ("argmin_lastdim_keepdims", "ArgMin", "torch.argmin(x, dim=-1, keepdim=True)", (64, 512), "Index of the min over the last axis, keepdims (nearest codebook entry)."),
]:
    task(id=tid, cat="Reduction", op=op, doc=doc + f" Input {list(shape)}.", shapes={"SHAPE": shape}, inputs=[f32()], mech="cpu", forward=fwd)
for tid, fwd, shape, doc, attrs in [
    ("cumsum_lastdim", "torch.cumsum(x, dim=-1)", (4, 128, 256), "Inclusive prefix sum over the last axis.", None),
    ("cumsum_axis1", "torch.cumsum(x, dim=1)", (4, 128, 256), "Inclusive prefix sum over axis 1.", None),
    ("cumsum_exclusive", None, (4, 128, 256), "Exclusive prefix sum over the last axis (exclusive=1).", (1, 0)),
    ("cumsum_reverse", None, (4, 128, 256), "Reverse inclusive prefix sum over the last axis (reverse=1).", (0, 1)),
]:
    entry = dict(id=tid, cat="Reduction", op="CumSum", doc=doc + f" Input {list(shape)}.", shapes={"SHAPE": shape}, inputs=[f32()], mech="geometry",
                 tol=1e-3, tol_reason="prefix sums of up to 256 values: accumulation order differs")
    if fwd:
        entry["forward"] = fwd
    else:
        exclusive, reverse = attrs
        ref = "torch.cumsum(x, dim=-1) - x" if exclusive else "torch.flip(torch.cumsum(torch.flip(x, [-1]), dim=-1), [-1])"
        entry.update(kit=True, pre=[f'CUMSUM = onnx_op("CumSum", lambda x: {ref}, attrs={{"exclusive_i": {exclusive}, "reverse_i": {reverse}}}, const_inputs=[torch.tensor(-1)])'],
                     forward="CUMSUM(x)")
    task(**entry)
OPSET17 = "opset 17 form (axes as an attribute): MNN's converter ignores the opset-18 axes input of this op and reduces every axis"
for tid, op, ref, shape, doc in [
    ("reducel2_lastdim", "ReduceL2", "torch.linalg.vector_norm(x, 2, dim=-1)", (1, 128, 768), "L2 norm over the last axis (keepdims=0)."),
    ("reducel2_axis1", "ReduceL2", "torch.linalg.vector_norm(x, 2, dim=1)", (4, 64, 256), "L2 norm over axis 1 (keepdims=0)."),
    ("reducelogsumexp_lastdim", "ReduceLogSumExp", "torch.logsumexp(x, dim=-1)", (1, 128, 768), "Log-sum-exp over the last axis (keepdims=0)."),
    ("reducelogsumexp_axis1", "ReduceLogSumExp", "torch.logsumexp(x, dim=1)", (4, 64, 256), "Log-sum-exp over axis 1 (keepdims=0)."),
]:
    axis = -1 if "dim=-1" in ref else 1
    task(id=tid, cat="Reduction", op=op, doc=doc + f" Input {list(shape)}. Uses the {OPSET17}; keepdims=0 because the converter ignores keepdims=1 in that form. MNN's converter rewrites the op into a Unary + Reduction chain (a combiner).",
         shapes={"SHAPE": shape}, inputs=[f32()], mech="combiner", opset=17, opset_reason=OPSET17, kit=True,
         pre=[f'REDUCE = onnx_op("{op}", lambda x: {ref}, attrs={{"axes_i": [{axis}], "keepdims_i": 0}})'], forward="REDUCE(x)",
         tol=1e-3, tol_reason=RED)

# ---------------------------------------------------------------- Tensor (19 ops, 28 tasks)
def tensor(tid, op, doc, shapes, inputs, mech, forward=None, pre=None, kit=False, **kw):
    task(id=tid, cat="Tensor", op=op, doc=doc, shapes=shapes, inputs=inputs, mech=mech, forward=forward, pre=pre, kit=kit, **kw)


tensor("reshape_heads", "Reshape", "Split the hidden axis into 12 heads: [1, 128, 768] -> [1, 128, 12, 64].", ACT, [f32()], "geometry", "x.reshape(1, 128, 12, 64)")
tensor("reshape_flatten_tokens", "Reshape", "Merge heads back: [1, 128, 12, 64] -> [1, 128, 768].", {"SHAPE": (1, 128, 12, 64)}, [f32()], "geometry", "x.reshape(1, 128, 768)")
tensor("transpose_heads", "Transpose", "Move heads before tokens: perm (0, 2, 1, 3) of [1, 128, 12, 64].", {"SHAPE": (1, 128, 12, 64)}, [f32()], "geometry", "x.permute(0, 2, 1, 3)")
tensor("transpose_2d", "Transpose", "Matrix transpose of [512, 512].", {"SHAPE": (512, 512)}, [f32()], "geometry", "x.t()")
tensor("squeeze_axis1", "Squeeze", "Drop the singleton axis 1 of [4, 1, 128, 256].", {"SHAPE": (4, 1, 128, 256)}, [f32()], "geometry", "x.squeeze(1)")
tensor("concat_lastdim", "Concat", "Concatenate two [1, 128, 384] halves along the last axis.", {"SHAPE": (1, 128, 384)}, [f32("a"), f32("b")], "geometry", "torch.cat([a, b], dim=-1)")
tensor("concat_channels", "Concat", "Concatenate two feature maps along channels (DenseNet / YOLO route).", IMG, [f32("a"), f32("b")], "geometry", "torch.cat([a, b], dim=1)")
tensor("split_qkv", "Split", "Split a fused QKV projection [1, 128, 2304] into three [1, 128, 768].", {"SHAPE": (1, 128, 2304)}, [f32()], "geometry", "torch.split(x, 768, dim=-1)")
tensor("slice_tokens", "Slice", "Take tokens 1..127 (drop the CLS token) of [1, 128, 768].", ACT, [f32()], "geometry", kit=True,
       pre=['SLICE = onnx_op("Slice", lambda x: x[:, 1:, :], const_inputs=[torch.tensor([1]), torch.tensor([128]), torch.tensor([1])])'], forward="SLICE(x)")
tensor("slice_step2", "Slice", "Every second element of the last axis of [1, 128, 768].", ACT, [f32()], "geometry", kit=True,
       pre=['SLICE = onnx_op("Slice", lambda x: x[..., ::2], const_inputs=[torch.tensor([0]), torch.tensor([768]), torch.tensor([-1]), torch.tensor([2])])'], forward="SLICE(x)")
tensor("gather_embedding", "Gather", "Embedding lookup: 2x64 token ids into a [4096, 256] table.", {"SHAPE_IDS": (2, 64)},
       [i32("ids", "SHAPE_IDS", 0, 4096, "int64")], "geometry", init=["self.table = nn.Parameter(torch.randn(4096, 256))"],
       kit=True, pre=['GATHER = onnx_op("Gather", lambda t, i: t[i], attrs={"axis_i": 0})'], forward="GATHER(self.table, ids)")
tensor("gather_axis1", "Gather", "Gather 64 runtime-chosen tokens (axis 1) of [2, 128, 256].", {"SHAPE": (2, 128, 256), "SHAPE_IDX": (64,)},
       [f32(), i32("idx", "SHAPE_IDX", 0, 128, "int64")], "geometry", "torch.index_select(x, 1, idx)")
tensor("gatherelements_lastdim", "GatherElements", "GatherElements along the last axis: [4, 64, 256] with indices [4, 64, 32].", {"SHAPE": (4, 64, 256), "SHAPE_IDX": (4, 64, 32)},
       [f32(), i32("idx", "SHAPE_IDX", 0, 256, "int64")], "geometry", "torch.gather(x, -1, idx)")
tensor("scatterelements_lastdim", "ScatterElements", "ScatterElements along the last axis with distinct indices per row: [4, 64, 256] <- [4, 64, 32].",
       {"SHAPE": (4, 64, 256), "SHAPE_IDX": (4, 64, 32)},
       [f32(), {"name": "idx", "shape": "SHAPE_IDX", "dtype": "int64", "dist": "unique_index", "high": 256}, f32("upd", "SHAPE_IDX")],
       "geometry", "x.scatter(-1, idx, upd)")
tensor("tile_seq", "Tile", "Repeat [1, 128, 768] twice along the sequence axis.", ACT, [f32()], "geometry", kit=True,
       pre=['TILE = onnx_op("Tile", lambda x: x.repeat(1, 2, 1), const_inputs=[torch.tensor([1, 2, 1])])'], forward="TILE(x)")
tensor("expand_broadcast", "Expand", "Broadcast [4, 1, 768] to [4, 128, 768] (positional bias).", {"SHAPE": (4, 1, 768)}, [f32()], "geometry", kit=True,
       pre=['EXPAND = onnx_op("Expand", lambda x: x.expand(4, 128, 768), const_inputs=[torch.tensor([4, 128, 768])])'], forward="EXPAND(x)")
tensor("pad_constant", "Pad", "Zero-pad H and W of [1, 32, 56, 56] by 1 pixel.", IMG, [f32()], "geometry", kit=True,
       pre=['PAD = onnx_op("Pad", lambda x: F.pad(x, (1, 1, 1, 1)), attrs={"mode_s": "constant"}, const_inputs=[torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])])'], forward="PAD(x)")
tensor("pad_reflect", "Pad", "Reflect-pad H and W of [1, 32, 56, 56] by 2 pixels (style transfer).", IMG, [f32()], "geometry", kit=True,
       pre=['PAD = onnx_op("Pad", lambda x: F.pad(x, (2, 2, 2, 2), mode="reflect"), attrs={"mode_s": "reflect"}, const_inputs=[torch.tensor([0, 0, 2, 2, 0, 0, 2, 2])])'], forward="PAD(x)")
tensor("flatten_features", "Flatten", "Flatten [1, 256, 7, 7] features before the classifier.", {"SHAPE": (1, 256, 7, 7)}, [f32()], "geometry", "torch.flatten(x, 1)")
tensor("topk_lastdim", "TopK", "Top-8 values and indices over the last axis of [4, 64, 1024] (sampling).", {"SHAPE": (4, 64, 1024)}, [f32()], "cpu", "torch.topk(x, 8, dim=-1)")
tensor("topk_classes", "TopK", "Top-5 classes of [16, 1000] logits.", {"SHAPE": (16, 1000)}, [f32()], "cpu", "torch.topk(x, 5, dim=-1)")
tensor("where_select", "Where", "Select between two tensors by a boolean mask, [1, 128, 768].", ACT, [boolean("cond"), f32("a"), f32("b")], "cpu", "torch.where(cond, a, b)")
tensor("depthtospace_dcr", "DepthToSpace", "DepthToSpace (pixel shuffle, block 2, DCR) of [1, 128, 28, 28] (super-resolution).", {"SHAPE": (1, 128, 28, 28)}, [f32()], "geometry", kit=True,
       pre=['D2S = onnx_op("DepthToSpace", lambda x: x.reshape(1, 2, 2, 32, 28, 28).permute(0, 3, 4, 1, 5, 2).reshape(1, 32, 56, 56), attrs={"blocksize_i": 2, "mode_s": "DCR"})'], forward="D2S(x)")
tensor("spacetodepth", "SpaceToDepth", "SpaceToDepth (block 2) of [1, 32, 56, 56] (YOLOv2 reorg / Focus).", IMG, [f32()], "geometry", kit=True,
       pre=['S2D = onnx_op("SpaceToDepth", lambda x: x.reshape(1, 32, 28, 2, 28, 2).permute(0, 3, 5, 1, 2, 4).reshape(1, 128, 28, 28), attrs={"blocksize_i": 2})'], forward="S2D(x)")
tensor("resize_bilinear_x2", "Resize", "Bilinear x2 upsampling (half-pixel centres) of [1, 32, 28, 28] (FPN).", {"SHAPE": (1, 32, 28, 28)}, [f32()], "cpu",
       'F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)')
tensor("resize_nearest_x2", "Resize", "Nearest x2 upsampling of [1, 32, 28, 28] (YOLO neck).", {"SHAPE": (1, 32, 28, 28)}, [f32()], "cpu", 'F.interpolate(x, scale_factor=2, mode="nearest")')
tensor("cast_float_to_int", "Cast", "Cast float32 -> int32 (truncation toward zero) of [1, 128, 768].", ACT, [f32(low=-100.0, high=100.0, edge=(-0.5, 0.5, -1.5))], "cpu", "x.to(torch.int32)")
tensor("onehot_labels", "OneHot", "One-hot encode [8, 128] labels into 100 classes.", {"SHAPE": (8, 128)}, [i32("labels", "SHAPE", 0, 100, "int64")], "cpu", kit=True,
       pre=['ONEHOT = onnx_op("OneHot", lambda i: F.one_hot(i, 100).float(), attrs={"axis_i": -1}, const_inputs=[torch.tensor(100), torch.tensor([0.0, 1.0])])'], forward="ONEHOT(labels)")

# ---------------------------------------------------------------- Logic (9 ops, 13 tasks)
def logic(tid, op, doc, inputs, forward=None, pre=None, kit=False, native=None, shapes=ACT):
    task(id=tid, cat="Logic", op=op, doc=doc, shapes=shapes, inputs=inputs, mech="combiner" if op == "Not" else "cpu",
         forward=forward, pre=pre, kit=kit, native_incorrect=native, native_incorrect_on=("host",) if native else None)


for op, sym in [("And", "logical_and"), ("Or", "logical_or"), ("Xor", "logical_xor")]:
    logic(op.lower(), op, f"Elementwise logical {op} of two boolean masks [1, 128, 768].", [boolean("a"), boolean("b")], kit=True,
          pre=[f'{op.upper()} = onnx_op("{op}", torch.{sym})'], forward=f"{op.upper()}(a, b)")
logic("not", "Not", "Elementwise logical Not of a boolean mask [1, 128, 768]. MNN's converter rewrites it as SUB + NEG (a combiner).", [boolean("x")], kit=True,
      pre=['NOT = onnx_op("Not", torch.logical_not)'], forward="NOT(x)")
logic("equal_int", "Equal", "Elementwise Equal of two int32 tensors [1, 128, 768] (token-id masks).", [i32("a", low=0, high=4), i32("b", low=0, high=4)], forward="torch.eq(a, b)")
logic("equal_float", "Equal", "Elementwise Equal of two float tensors [1, 128, 768] containing signed zeros.",
      [f32("a", low=-2.0, high=2.0, edge=(0.0, -0.0, 1.0)), f32("b", low=-2.0, high=2.0, edge=(-0.0, 0.0, 1.0))], forward="torch.eq(a, b)",
      native="MNN's x86 SSE float Equal compares bit patterns, so -0.0 != +0.0 (source/math/Vec.hpp)")
logic("greater", "Greater", "Elementwise Greater of two float tensors [1, 128, 768].", [f32("a"), f32("b")], forward="torch.gt(a, b)")
logic("greater_nchw", "Greater", "Elementwise Greater of two feature maps [1, 32, 56, 56].", [f32("a"), f32("b")], forward="torch.gt(a, b)", shapes=IMG)
logic("greaterorequal", "GreaterOrEqual", "Elementwise GreaterOrEqual of two float tensors [1, 128, 768].", [f32("a", edge=(0.5,)), f32("b", edge=(0.5,))], forward="torch.ge(a, b)")
logic("less_int", "Less", "Elementwise Less of two int32 tensors [1, 128, 768] (the int form MNN computes correctly).", [i32("a"), i32("b")], forward="torch.lt(a, b)")
logic("less_float", "Less", "Elementwise Less of two float tensors [1, 128, 768], negative values included.", [f32("a"), f32("b")], forward="torch.lt(a, b)",
      native="MNN's x86 SSE float Less compares bit patterns as int32: wrong when both inputs are negative (source/math/Vec.hpp)")
logic("lessorequal", "LessOrEqual", "Elementwise LessOrEqual of two float tensors [1, 128, 768].", [f32("a", edge=(0.5,)), f32("b", edge=(0.5,))], forward="torch.le(a, b)")
logic("lessorequal_int", "LessOrEqual", "Elementwise LessOrEqual of two int32 tensors [1, 128, 768].", [i32("a", low=-4, high=4), i32("b", low=-4, high=4)], forward="torch.le(a, b)")

# ---------------------------------------------------------------- Others (4 ops, 4 tasks)
task(id="rnn_tanh", cat="Others", op="RNN", doc="A single-layer tanh RNN, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128].",
     shapes={"SHAPE_X": (32, 4, 64), "SHAPE_H": (1, 4, 128)}, inputs=[f32("x", "SHAPE_X"), f32("h0", "SHAPE_H")], mech="geometry",
     init=["self.rnn = nn.RNN(SHAPE_X[2], SHAPE_H[2])"], forward="self.rnn(x, h0)[1]",
     tol=1e-3, tol_reason="32 recurrent steps of tanh: rounding compounds")
task(id="lstm", cat="Others", op="LSTM", doc="A single-layer LSTM, 32 steps, batch 4, input 64, hidden 128; returns the final hidden state Y_h [1, 4, 128].",
     shapes={"SHAPE_X": (32, 4, 64), "SHAPE_H": (1, 4, 128)}, inputs=[f32("x", "SHAPE_X"), f32("h0", "SHAPE_H"), f32("c0", "SHAPE_H")], mech="combiner",
     init=["self.lstm = nn.LSTM(SHAPE_X[2], SHAPE_H[2])"], forward="self.lstm(x, (h0, c0))[1][0]",
     tol=1e-3, tol_reason="32 recurrent steps of sigmoid/tanh: rounding compounds")
task(id="stft", cat="Others", op="STFT", doc="Short-time Fourier transform of 2 audio signals of 4096 samples: frame 256, hop 128, Hann window, one-sided; output [2, 31, 129, 2] (real, imaginary).",
     shapes={"SHAPE": (2, 4096, 1)}, inputs=[f32()], mech="cpu", opset=17, opset_reason="STFT was added in opset 17 and is unchanged since",
     kit=True, init=["self.register_buffer('step', torch.tensor(128))", "self.register_buffer('window', torch.hann_window(256, periodic=True))", "self.register_buffer('length', torch.tensor(256))"],
     pre=['def _stft(x, step, window, length):', '    spec = torch.stft(x[..., 0], 256, hop_length=128, window=window, center=False, onesided=True, return_complex=True)',
          '    return torch.view_as_real(spec.transpose(1, 2))', '', '', 'STFT = onnx_op("STFT", _stft, attrs={"onesided_i": 1})'],
     forward="STFT(x, self.step, self.window, self.length)",
     tol=1e-3, tol_reason="FFT sums of 256 terms: rounding differs")

ROI_PRE = [
    "def _axis_weights(pos, size):",
    "    valid = (pos >= -1.0) & (pos <= size)",
    "    pos = pos.clamp(min=0.0)",
    "    low = pos.floor().long().clamp(max=size - 1)",
    "    high = (low + 1).clamp(max=size - 1)",
    "    pos = torch.where(low >= size - 1, low.to(pos.dtype), pos)",
    "    frac = pos - low.to(pos.dtype)",
    "    return low, high, (1.0 - frac) * valid, frac * valid",
    "",
    "",
    "def _roi_align(x, rois, batch_idx):",
    '    """Reference RoiAlign (avg, half_pixel) as ONNX defines it."""',
    "    height, width = x.shape[2], x.shape[3]",
    "    outs = []",
    "    for r in range(rois.shape[0]):",
    "        fm = x[int(batch_idx[r])]",
    "        x1, y1, x2, y2 = (rois[r] * SCALE - 0.5).tolist()",
    "        bin_h, bin_w = (y2 - y1) / POOLED, (x2 - x1) / POOLED",
    "        ys = y1 + (torch.arange(POOLED * RATIO, dtype=torch.float32) + 0.5) * bin_h / RATIO",
    "        xs = x1 + (torch.arange(POOLED * RATIO, dtype=torch.float32) + 0.5) * bin_w / RATIO",
    "        ylo, yhi, wylo, wyhi = _axis_weights(ys, height)",
    "        xlo, xhi, wxlo, wxhi = _axis_weights(xs, width)",
    "        value = 0.0",
    "        for yi, wy in ((ylo, wylo), (yhi, wyhi)):",
    "            for xi, wx in ((xlo, wxlo), (xhi, wxhi)):",
    "                value = value + fm[:, yi][:, :, xi] * (wy[:, None] * wx[None, :])",
    "        c = fm.shape[0]",
    "        outs.append(value.reshape(c, POOLED, RATIO, POOLED, RATIO).mean(dim=(2, 4)))",
    "    return torch.stack(outs)",
    "",
    "",
    'ROIALIGN = onnx_op("RoiAlign", _roi_align, attrs={"mode_s": "avg", "output_height_i": POOLED, "output_width_i": POOLED, "sampling_ratio_i": RATIO, "spatial_scale_f": SCALE, "coordinate_transformation_mode_s": "half_pixel"})',
    "",
    "",
    "def sample_inputs(rng):",
    '    """Boxes with x1 < x2 and y1 < y2 inside an 800x600 image."""',
    "    x = rng.uniform(-1.0, 1.0, SHAPE).astype(np.float32)",
    "    xy1 = rng.uniform(0.0, [700.0, 500.0], (SHAPE_ROIS[0], 2))",
    "    wh = rng.uniform(16.0, 200.0, (SHAPE_ROIS[0], 2))",
    "    rois = np.concatenate([xy1, np.minimum(xy1 + wh, [799.0, 599.0])], axis=1).astype(np.float32)",
    "    return [x, rois, np.zeros(SHAPE_IDX, dtype=np.int64)]",
]
task(id="roialign", cat="Others", op="RoiAlign", doc="RoiAlign (avg, 7x7, sampling ratio 2, spatial scale 1/16, half-pixel) of 32 boxes over a [1, 64, 38, 50] feature map (Faster R-CNN).",
     shapes={"SHAPE": (1, 64, 38, 50), "SHAPE_ROIS": (32, 4), "SHAPE_IDX": (32,)},
     inputs=[f32(), f32("rois", "SHAPE_ROIS", 0.0, 600.0), i32("batch_idx", "SHAPE_IDX", 0, 1, "int64")], mech="cpu", kit=True, numpy=True, consts={"POOLED": 7, "RATIO": 2, "SCALE": 0.0625}, pre=ROI_PRE,
     forward="ROIALIGN(x, rois, batch_idx)", tol=1e-3, tol_reason="bilinear sampling weights: rounding differs")
