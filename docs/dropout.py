# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Dropout
#
# !!! abstract "本章要点"
#     **Dropout** 是深度学习中使用最广泛的正则化技术之一。与 [L2 正则化](l2.py)通过限制权重大小来防止过拟合不同，
#     Dropout 在训练时**随机地把一部分神经元的输出置为 0**，迫使网络不能依赖任何一个特定的神经元。本章将：
#
#     1. 写出 Dropout 的定义，推导为什么保留下来的输出要除以 $1-p$（期望不变），并计算它引入的方差；
#     2. 从"防止共适应"和"隐式集成"两个角度理解 Dropout 为什么有正则化效果；
#     3. 测试手写的 `dropout_layer`，并用大量随机掩码验证期望确实不变；
#     4. 在 MNIST 上训练带/不带 Dropout 的卷积网络（原实验，一次运行作示例），看训练/测试准确率及二者之差；
#     5. 在一个便宜的小数据多层感知机上，跨 5 个随机种子**配对**比较：有无 Dropout、手写版与 PyTorch 版、不同的丢弃概率 $p$，
#        以及权重衰减、Dropout 加权重衰减和（在验证集上选 epoch 的）提前停止；
#     6. 演示训练模式与评估模式的区别。

# %% [markdown]
# ## Dropout 的定义
#
# 训练时，对某一层的每个输出 $h$（对每个样本、每个神经元独立地）以概率 $p$ 将其丢弃：
#
# $$
# h' =
# \begin{cases}
# 0, & \text{概率为 } p \quad\text{（丢弃）},\\[1ex]
# \dfrac{h}{1-p}, & \text{概率为 } 1-p \quad\text{（保留）}.
# \end{cases}
# $$
#
# 等价地，引入一个伯努利随机变量 $m \sim \operatorname{Bernoulli}(1-p)$（$m=1$ 表示保留），则 $h' = \dfrac{m\,h}{1-p}$。
# 在代码中，$m$ 就是一个与输出形状相同的 0/1 **掩码**。
#
# ### 期望不变：为什么要除以 $1-p$
#
# 对掩码取期望（$h$ 视为给定）：
#
# $$
# \mathbb{E}[h'] = p \cdot 0 + (1-p)\cdot\frac{h}{1-p} = h .
# $$
#
# 所以，经过 Dropout 后每个输出的**期望**与原来相同。这一点为什么重要？测试时我们不再随机丢弃，而是使用完整的网络。
# 如果训练时不做缩放，下一层在训练时看到的输入平均只有 $(1-p)h$，测试时却突然变成 $h$，输入的尺度整体变大，
# 网络学到的东西就对不上了。训练时除以 $1-p$，保证了下一层在训练和测试时看到的输入尺度一致，
# 测试时就可以什么都不做，直接使用整个网络。
#
# !!! info "两种等价的做法"
#     这里（以及 PyTorch 的 `nn.Dropout`）采用的是"**反向 Dropout**"（inverted dropout）：训练时除以 $1-p$，测试时不做任何处理。
#     Dropout 的原始论文（Hinton 等，2012；Srivastava 等，2014）则是训练时不缩放，测试时把权重乘以 $1-p$。两者在期望意义下等价，
#     但反向 Dropout 让推理代码与不使用 Dropout 时完全相同，因此成为主流。
#
# ### Dropout 引入的噪声有多大
#
# 期望不变，但方差增加了。由 $\mathbb{E}[m^2] = \mathbb{E}[m] = 1-p$：
#
# $$
# \begin{aligned}
# \operatorname{Var}[h'] &= \mathbb{E}[h'^2] - h^2\\
#                        &= \frac{(1-p)\,h^2}{(1-p)^2} - h^2 = \frac{p}{1-p}\,h^2 .
# \end{aligned}
# $$
#
# $p = 0.5$ 时噪声的标准差与 $h$ 本身一样大；$p \to 1$ 时方差趋于无穷，信号被噪声淹没。
# 这说明 $p$ 不能太大，也解释了为什么 $p = 1$ 只能被当作"全部丢弃"的特殊情况处理（此时 $1/(1-p)$ 没有意义）。

# %% [markdown]
# ## Dropout 为什么有正则化效果
#
# !!! tip "Dropout 的优点"
#     1. **防止神经元的共适应（co-adaptation）。** 没有 Dropout 时，一个神经元可以"指望"另外几个特定的神经元一起出现，
#        几个神经元联合起来记住训练集中的偶然模式。有了 Dropout，任何一个同伴都可能随时缺席，
#        每个神经元都必须学到**单独也有用**、能与随机的同伴组合配合的特征，因而更加鲁棒。
#     2. **一种廉价的模型集成。** 一层有 $n$ 个可丢弃的神经元，就有 $2^n$ 种掩码，每种掩码对应一个共享权重的子网络。
#        每个训练步实际上是在训练随机抽到的一个子网络；测试时使用完整网络（配合 $1/(1-p)$ 的缩放），
#        可以看作对这指数多个子网络的预测做近似平均。集成通常比单个模型泛化更好，而这里几乎不增加计算量。
#     3. **向隐藏层注入噪声。** 从 $\operatorname{Var}[h'] = \frac{p}{1-p}h^2$ 可以看出，Dropout 相当于给隐藏表示加上了与其大小成比例的乘性噪声，
#        网络必须学会对这种扰动不敏感。在某些简单模型（如线性回归）中，可以严格证明 Dropout 等价于一种自适应的 L2 正则化。
#
# !!! info "实践建议"
#     - Dropout 最常用在**全连接层**上。Srivastava 等（2014）的做法是隐藏层 $p = 0.5$、输入层用较小的 $p$（如 0.2）；
#       d2l（4.6 节）的多层感知机则在第一个隐藏层后用 0.2、第二个隐藏层后用 0.5，输入不丢弃。
#     - 卷积层的参数少且相邻像素高度相关，逐元素 Dropout 效果有限，通常不用或只用较小的 $p$（如 0.1），也可以用按通道丢弃的 `nn.Dropout2d`。
#       现代卷积网络更多依靠 BatchNorm 和数据增强来正则化。
#     - Transformer 中常用 $p = 0.1$，作用在注意力权重和残差分支上。
#     - **推理时一定要调用 `model.eval()`**，否则 Dropout 仍在随机丢弃，预测结果既不稳定又偏差。
#     - Dropout 使每一步的梯度更"吵"，通常需要更多的训练轮数才能收敛。

# %% [markdown]
# ## 手写 dropout_layer
#
# !!! example "练习 5.1：`dropout_layer(X, dropout)`"
#     按上面的定义实现：以概率 $p$（`dropout`）把 `X` 的每个元素独立地置 0，保留的元素除以 $1-p$。
#     提示：先生成与 `X` 同形状、元素服从 $U(0,1)$ 的随机张量（`torch.rand(X.shape, device=X.device, dtype=X.dtype)`），
#     大于 $p$ 的位置保留（概率恰为 $1-p$）；$p = 1$ 时直接返回全 0（否则会算出 $0/0$）；不要修改 `X` 本身。
#     `check_dropout_layer` 会在二十万个元素上统计保留的比例和保留值的大小，认出"除以了 $p$""没有放大""按概率 $p$ 保留"
#     "每行用同一个掩码"等常见错误。本章后面的网络用的就是你写的这个函数。

# %%
# %matplotlib inline
import warnings

import torch

from labcode import lessons, plots
from labcode.data import MnistFallbackWarning
from labcode.selfcheck import check_dropout_layer, check_dropout_model, check_eval_accuracy

warnings.simplefilter("ignore", MnistFallbackWarning)  # 用的是哪份数据，实验输出中会写明


def dropout_layer(X, dropout):
    # BEGIN SOLUTION 练习 5.1：请实现 dropout_layer（检查：check_dropout_layer）
    if not 0 <= dropout <= 1:
        raise ValueError(f"dropout 应在 [0, 1] 内，收到 {dropout}")
    if dropout == 1:
        return torch.zeros_like(X)
    if dropout == 0:
        return X
    keep = torch.rand(X.shape, device=X.device, dtype=X.dtype) > dropout
    return keep.to(X.dtype) * X / (1.0 - dropout)
    # END SOLUTION


check_dropout_layer(dropout_layer)

# %% [markdown]
# 用原实验的例子测试：输入是 $0, 1, \dots, 15$ 排成的 $2 \times 8$ 矩阵，丢弃概率分别取 0、0.5 和 1：

# %%
torch.manual_seed(0)
X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
print("X =\n", X)
print("p = 0   →\n", dropout_layer(X, 0.0))
print("p = 0.5 →\n", dropout_layer(X, 0.5))
print("p = 1   →\n", dropout_layer(X, 1.0))

# %% [markdown]
# 可以看到：$p = 0$ 时输出与输入相同；$p = 0.5$ 时大约一半元素变成 0，其余元素翻倍（除以 $1 - 0.5$）；$p = 1$ 时全部为 0。
#
# 单次的结果是随机的。为了验证 $\mathbb{E}[h'] = h$，我们对同一个 `X` 重复一万次 $p = 0.5$ 的 Dropout，取平均：

# %%
samples = torch.stack([dropout_layer(X, 0.5) for _ in range(10_000)])
mean, var = samples.mean(dim=0), samples.var(dim=0)
print("一万次的平均值 =\n", mean.round(decimals=2))
print("与 X 的最大偏差：", (mean - X).abs().max().item())
nonzero = X != 0
print(
    "经验方差 / 理论方差 h²（p = 0.5，h ≠ 0 的元素，取平均）：",
    (var[nonzero] / X[nonzero] ** 2).mean().item(),
)

# %% [markdown]
# 平均值非常接近 `X`，偏差来自有限次采样（它随样本数按 $1/\sqrt{N}$ 缩小）；经验方差也与 $\frac{p}{1-p}h^2 = h^2$ 吻合（比值接近 1）。
#
# ## 实验：卷积网络上的 Dropout
#
# 我们使用原实验的卷积网络：
#
# $$
# \begin{aligned}
# &\text{conv}(1\to32,\,3\times3) \to \text{ReLU}\\
# &\to \text{maxpool}\\
# &\to \text{conv}(32\to64,\,3\times3) \to \text{ReLU}\\
# &\to \text{maxpool} \to \text{展平 (1600)}\\
# &\to \textbf{Dropout} \to \text{fc}(1600\to128)\\
# &\to \text{ReLU} \to \text{fc}(128\to10).
# \end{aligned}
# $$
#
# Dropout 放在卷积特征展平之后、全连接层之前，只在训练模式下生效。
# （原实验的文字说"把 Dropout 用在每个隐藏层的输出上（激活函数之后）"，而它的代码只在展平后的卷积特征上用了一次，
# `fc1` 的输出并没有经过 Dropout。本站沿用原实验的**代码**，以便对照。）网络有两个版本：
# `RegularizedNetwork` 使用手写的 `dropout_layer`（在 `forward` 中检查 `self.training`），
# `TorchDropoutNetwork` 使用 `nn.Dropout`（它自己会根据训练/评估模式决定是否丢弃）。
# 下面训练不带 Dropout 的网络和手写 Dropout 的版本（`nn.Dropout` 版与手写版的对照放在后面的小数据 MLP 上，那里便宜，可以跑 5 个种子），每个 epoch 记录训练准确率与测试准确率。
#
# !!! example "练习 5.2：只在训练时丢弃的网络"
#     写 `MyRegularizedNetwork` 的 `forward`：它继承 `RegularizedNetwork`，卷积部分 `self.features(x)` 已经写好（返回展平的 1600 维特征），
#     全连接层是 `self.fc1`、`self.fc2`，丢弃比例是 `self.dropout_rate`。只在训练模式（`self.training` 为真）下对展平的特征调用**你的** `dropout_layer`。
#     `check_dropout_model` 检查：训练模式下两次前向的输出不同，评估模式下两次相同，并且与不带 Dropout 的同一网络完全一致。
#
# 下面的主实验里，"无 Dropout"与"手写 Dropout"两个网络用的就是你写的这个类。

# %%
from labcode.experiments import run_dropout, run_dropout_mlp
from labcode.models import RegularizedNetwork
from labcode.profiles import config_rows
from labcode.tables import seed_table


class MyRegularizedNetwork(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)  # 两层卷积 + 池化，展平成 (B, 1600)
        # BEGIN SOLUTION 练习 5.2：请实现 MyRegularizedNetwork.forward（检查：check_dropout_model）
        if self.training:
            x = dropout_layer(x, self.dropout_rate)
        return self.fc2(torch.relu(self.fc1(x)))
        # END SOLUTION


check_dropout_model(MyRegularizedNetwork)

# %%
# 卷积网络训练一次要十几秒：这里只训练"无 Dropout"与"手写 Dropout"各一次（种子 0），作为示例；
# 跨种子的比较放在后面便宜得多的小数据 MLP 上
res = run_dropout(variants=("none", "scratch"), model_cls=MyRegularizedNetwork)  # 你写的网络
print(res.data_description, "| 设备：", res.device, "| 规模：", res.profile)
for note in res.notes:
    print(note)
print("设置：", "，".join(f"{k}={v}" for k, v in config_rows(res.config)))

# %% [markdown]
# 下图有四幅上下排列的子图。第一幅是训练准确率，每个模型画了两条线：**虚线**是原实验的统计方式——在训练过程中边训练边统计，
# 此时 Dropout 开着、参数也在不断变化；**实线**是每个 epoch 结束后切换到评估模式、在训练集上重新计算的准确率，
# 与测试准确率的统计方式相同（训练集较小时用整个训练集；完整 MNIST 上用固定的 10000 张训练图，见设置中的 `train_eval_size`，估计的标准误不到 0.2 个百分点）。两条线相差很小，所以第二幅单独画出它们的差（评估模式减边训练边统计，单位是百分点）。第三幅是测试准确率，第四幅是评估模式的训练准确率减测试准确率，即**泛化差距**。

# %%
fig = plots.plot_dropout(res)
fig

# %% [markdown]
# 观察上图（一次运行，只作示例）：
#
# - 虚线（边训练边统计）一般低于实线（epoch 结束后用评估模式重新计算）。原因有两个：一个 epoch 里参数一直在变，
#   前面的批次是用较差的参数预测的——这一点有无 Dropout 都一样；开着 Dropout 时，训练模式的预测还被随机丢弃拉低。
#   一次运行里这两个原因混在一起，图上分不开；下面在小数据 MLP 上跨 5 个种子配对比较，单独量出后一个原因
#   （结论 `original_train_accuracy_understates_with_dropout`）。所以，原实验拿虚线与测试准确率比较，量的并不是 Dropout 的效果。
# - 两个模型的测试准确率和泛化差距随 epoch 都有起伏，一次运行看不出它们的差别是否超出随机波动。
#
# 准确率只看预测对不对，是一个很粗的指标；更敏感的指标是**交叉熵损失的差距**（测试损失减训练损失，均在评估模式下计算），
# 它同时反映了模型对预测有多"自信"。下面打印这次运行最后三分之一个 epoch 的平均值，只作示例，不作结论：

# %%
from labcode.stats import tail_mean

print("一次运行（种子 0），后 1/3 个 epoch 的平均（示例，不是跨种子的比较）：")
for name, run in res.runs.items():
    h = run.history
    print(
        f"  {name:8s} 测试准确率 {tail_mean(h['test_acc']):.2%}，"
        f"准确率差距 {100 * tail_mean(h['gap']):.2f} 个百分点，损失差距 {tail_mean(h['loss_gap']):.3f}"
    )

# %% [markdown]
# !!! note "与原实验的不同"
#     - 原实验把边训练边统计的准确率（Dropout 开着）直接与测试准确率（Dropout 关着）比较，两者的条件不同。
#       这里另外在评估模式下重新计算训练准确率和训练损失，并报告二者与测试集的差距——**泛化差距**，正则化的作用正是缩小它。
#     - 原实验在完整 MNIST（6 万张训练图）上训练 15 个 epoch。训练图越多，过拟合越轻，可以预期 Dropout 的效果更不明显
#       （这是预期，不是本次构建的测量；full 规模的运行记录见仓库的 README）。
#       `quick` 规模只用一小部分训练图像（见页首输出的数据说明），训练样本少，过拟合更容易出现。
#     - 原实验只有一次运行。一次运行里的差别可能小于换一个随机种子带来的波动，所以本页的结论都来自 5 个种子的配对比较。
#       卷积网络 5 个种子 × 几个变体超出了构建的时间预算，这些比较改在下面的小数据 MLP 上做；
#       想在卷积网络上核对，可以自己运行 `run_dropout_seeds(seeds=range(5))`，再用 `lessons.dropout_gap_over_seeds` 检查。
#
# ## 小数据 MLP：跨 5 个种子的配对比较
#
# Srivastava 等（2014）的实验中 Dropout 效果显著，是因为他们的网络相对数据**很大**：很宽的全连接层、较少的训练数据、很长的训练。
# 我们按这个思路构造一个便宜的设置：只用 512 张训练图，两个 512 宽的隐藏层（`labcode.models.DropoutMLP`），训练数十个 epoch（见下面打印的说明）；
# 每层用不同的丢弃比例，按 Srivastava 等（2014）的做法：输入层 0.2，两个隐藏层 0.5。
# （d2l 4.6 节的做法不同：第一个隐藏层后 0.2、第二个后 0.5，输入不丢弃，见练习 B。）
#
# 每个种子训练三个网络：不带 Dropout、带**你写的** `dropout_layer`、带 PyTorch 的 `torch.nn.functional.dropout`。
# 同一个种子的三个网络初始权重和批次顺序都相同，所以可以**配对**比较；每条核对都写明所用的判据：
# "5 个种子中每个都大于 0"，或"平均配对差大于其标准误的 2 倍"。表中每行一个种子，最后一行是均值 ± 标准差。

# %%
# 除了有无 Dropout 与两种实现，同样的种子上还训练了三个对照：权重衰减、Dropout 加权重衰减、提前停止（见下一节）
mlp = run_dropout_mlp(
    dropout_fn=dropout_layer,  # 你写的 dropout_layer
    variants=("none", "dropout", "torch", "weight_decay", "dropout_wd", "early_stop"),
)
for note in mlp.notes:
    print(note)
main_variants = ("none", "dropout", "torch")
print(seed_table(mlp, ("test_loss", "test_acc"), variants=main_variants))
print(seed_table(mlp, ("loss_gap", "train_acc_eval"), variants=main_variants))
lessons.report(lessons.check_all(mlp))

# %% [markdown]
# 逐条读上面的核对：
#
# - `dropout_implementations_agree`：手写版与 PyTorch 版的差别，连同它的不确定度（2 个标准误），都在一个很小的界之内——它们是同一个算法。
#   这条核对能拒绝常见的错误：一个忘了除以 $1-p$ 的版本，测试时每层输入的尺度比训练时大，测试损失明显变差，它通不过（本站的测试中有这个反例）。
# - `dropout_helps_small_data_mlp`、`dropout_narrows_loss_gap`：不带 Dropout 的网络把 512 张训练图全部记住（表中 eval 模式的训练准确率），
#   带 Dropout 的网络在每个种子上测试损失都更低、损失差距都更小；测试准确率没有变差，
#   它是否也可分辨地提高了，核对的说明里写着（"可分辨地大于 0"或"与 0 分不出高下"）。
# - `original_train_accuracy_understates_with_dropout`：原实验"边训练边统计"的训练准确率，带 Dropout 时比评估模式低得更多——
#   它低估了网络对训练集的拟合，不能拿来和测试准确率比较。
#
# 换成更难的数据集（`LABCODE_DATASET=fashion-mnist`），结论中哪一部分可能会变？（本站在 Fashion-MNIST 上做过一次 full 规模的运行，结果记录在仓库的 README 中。）
# 对照卷积网络那一节：**正则化的收益取决于模型过拟合的程度**，而"损失"比"准确率"更早、更敏感地反映出这种收益。
#
# ## 权重衰减、两者同时、提前停止
#
# Dropout 不是唯一的办法。上面同样的 5 个种子上，还训练了三个对照（核对也在上面的输出里）：
#
# - **权重衰减**：不用 Dropout，每一步把三个全连接层的权重乘以 $1-\eta\lambda$（[L2 一章](l2.py)的做法，偏置不衰减）。
#   $\lambda$ 是**事先固定**的（见上面打印的说明），没有在测试集上挑选；
# - **Dropout 加权重衰减**：两者同时用；
# - **提前停止**：不用 Dropout，从 512 张训练图中留出一部分作**验证集**（不参加训练），每个 epoch 结束后在验证集上算损失，
#   取验证损失最低的那个 epoch 作为"停止"的时刻，报告那个 epoch 的测试损失。选 epoch 时只看验证集，测试集没有参与选择。

# %%
print(seed_table(mlp, ("test_loss",), variants=("none", "weight_decay", "dropout", "dropout_wd")))
for seed in sorted({r.params["seed"] for r in mlp.runs.values()}):
    stop = mlp[f"early_stop/seed={seed}"].summary
    print(
        f"种子 {seed}：提前停止选出第 {stop['stop_epoch']} 个 epoch，测试损失 {stop['stopped_test_loss']:.3f}"
        f"（训练到最后一个 epoch 为 {stop['final_test_loss']:.3f}）"
    )

# %% [markdown]
# 对照上面的核对：
#
# - `weight_decay_helps_small_data_mlp`：权重衰减在每个种子上都降低了测试损失——同一个正则化思想，从线性回归搬到了神经网络上；
# - `dropout_and_weight_decay_combine`：两者同时用，测试损失在每个种子上都比不加正则低，也看不出比单独用较好的那一种差；
#   它是否可分辨地**更好**，核对的说明里写着（"可分辨地更好"或"分不出高下"）；
# - `early_stopping_on_validation_helps`：不加正则的网络训练得越久，测试损失反而会回升（它越来越"自信"地记住训练集）；
#   按验证损失选出的 epoch，测试损失在每个种子上都比训练到最后低。提前停止几乎不花额外的计算，代价是少用了一部分训练数据来训练。
#
# 这三个对照和上面的 Dropout 一样，都是在**同一个**很小、很容易过拟合的设置上测的；换一个数据量更大、过拟合更轻的设置，收益会变小，需要重新测量。
#
# ## 丢弃概率的影响
#
# $p$ 太小，Dropout 几乎不起作用；$p$ 太大，每一步只有很少的神经元在工作，信号被噪声淹没，网络欠拟合。
# 下面在同一个小数据 MLP 上扫描丢弃概率：两个隐藏层之后都用 $p$，输入不丢弃；每个 $p$ 在同样的 5 个种子上各训练一次
# （$p = 0$ 就是上面不带 Dropout 的网络，直接复用）。图中是 5 个种子的平均：

# %%
from labcode.experiments import run_dropout_mlp_sweep
from labcode.experiments.dropout import sweep_seed_means

sweep = run_dropout_mlp_sweep(reuse=mlp, dropout_fn=dropout_layer)  # 你写的 dropout_layer
sweep_mean = sweep_seed_means(sweep)
fig = plots.plot_dropout_sweep(sweep_mean)
fig

# %% [markdown]
# 下面的图可以交互：拖动滑块选择丢弃概率 $p$，看每个 epoch 的训练、测试准确率和泛化差距（5 个种子的平均）；静态图见上。

# %%
from labcode import interactive

interactive.dropout_explorer(sweep_mean)

# %%
print(seed_table(sweep, ("test_loss",)))
print(seed_table(sweep, ("train_acc_eval",)))
lessons.report(lessons.check_all(sweep))

# %% [markdown]
# 上图是在最后三分之一的 epoch 上取平均的训练准确率（评估模式）与测试准确率，下图是损失差距（左纵轴）与准确率差距（右纵轴）。
#
# 核对 `high_dropout_underfits` 的说明列出了每个 $p$ 的测试准确率和测试损失（均值 ± 标准差），以及与测试损失平均最好的 $p$
# **分不出高下**的 $p$：平均配对差小于其标准误的 2 倍时，只能说"分不出"，不能说哪个更好。
# 最大的 $p$ 的泛化差距比 $p = 0$ 小，但这不是"更好地防止了过拟合"：它在训练集上的准确率（评估模式）也明显下降，测试损失比最好的 $p$ 更高——
# 丢弃太多，网络连训练集都拟合不好，这是**欠拟合**。泛化差距小，本身不是目标；目标是测试误差低。
#
# 另外，这里是看**测试集**来比较 $p$ 的，只为演示。真正选 $p$ 时，要在从训练数据中分出的验证集上比较（见 [L2 一章](l2.py)的交叉验证），
# 测试集留到最后只用一次。

# %% [markdown]
# ## 训练模式与评估模式
#
# Dropout 只应在训练时生效。PyTorch 用 `model.train()` 和 `model.eval()` 切换模块的 `training` 属性，
# `nn.Dropout` 和本站手写的 `RegularizedNetwork` 都根据这个属性决定是否丢弃。
# 下面取一个 $p = 0.5$ 的网络，把同一张测试图片连续输入两次，分别在两种模式下比较输出的 logits：

# %%
from labcode import RegularizedNetwork
from labcode.data import load_mnist

torch.manual_seed(0)
net = RegularizedNetwork(dropout_rate=0.5)
image = load_mnist().test_x[:1].cpu()

torch.set_printoptions(precision=4)
with torch.no_grad():
    net.train()
    print("训练模式，第一次：", net(image)[0, :5])
    print("训练模式，第二次：", net(image)[0, :5])
    net.eval()
    print("评估模式，第一次：", net(image)[0, :5])
    print("评估模式，第二次：", net(image)[0, :5])

# %% [markdown]
# !!! example "练习 5.3：在评估模式下测准确率"
#     写 `accuracy_eval_mode(model, loader)`：把模型切到评估模式（Dropout 关闭），在 `loader` 的全部样本上统计预测正确的个数，
#     除以样本总数，返回 0 到 1 之间的比例。注意：最后一个批次可能较小，**不要**对各批次的准确率取平均。
#     本章的实验正是这样在训练集上重新计算"训练准确率"的；`check_eval_accuracy` 会用一个带 Dropout、处于训练模式的网络
#     和一个最后一批不满的数据集来检查你的函数。
#
#     这个练习是独立的：本章的实验用 `labcode` 自己的评估函数（同样的算法），不调用你写的 `accuracy_eval_mode`。


# %%
def accuracy_eval_mode(model, loader):
    # BEGIN SOLUTION 练习 5.3：请实现 accuracy_eval_mode（检查：check_eval_accuracy）
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    return correct / total
    # END SOLUTION


check_eval_accuracy(accuracy_eval_mode)

# %% [markdown]
# 训练模式下，同一张图片两次得到的输出不同，因为每次的随机掩码不同；评估模式下 Dropout 关闭，输出确定且可复现。
# 如果测试时忘了调用 `model.eval()`，预测就会带着随机丢弃：结果不可复现，准确率也会下降——
# 前面小数据 MLP 上的核对 `original_train_accuracy_understates_with_dropout` 在训练集上量出了这种下降。
#
# ## 思考题
#
# ??? question "思考题 5：Dropout 为什么能够起到正则化的作用？训练时和测试时的差异处理有什么意义？"
#
#     ??? tip "提示"
#         - 一层有 $n$ 个神经元，Dropout 一共可能产生多少种不同的子网络？它们的参数是什么关系？测试时用完整网络，相当于在做什么？
#         - 计算 $\mathbb{E}[h']$：如果训练时不除以 $1-p$，测试时使用完整网络会出现什么问题？
#         - 一个神经元如果知道"某个同伴随时可能缺席"，它学到的特征会有什么不同？
#         - 对照上面的实验：Dropout 对训练准确率、测试准确率和泛化差距分别有什么影响？$p$ 过大时又如何？
#
#     ??? success "参考思路"
#         **正则化作用。** (1) 集成的观点：每个训练步随机抽取一个共享权重的子网络来训练，$n$ 个神经元对应 $2^n$ 个子网络；
#         测试时的完整网络近似于对这些子网络求平均，而集成能降低单个模型的方差、提高泛化能力。
#         (2) 特征依赖的观点：由于任何神经元都可能被丢弃，网络无法依赖少数神经元的特定组合去记忆训练数据，
#         每个神经元都要学到单独有用、冗余而鲁棒的特征，共适应被打破。
#         (3) 噪声的观点：Dropout 给隐藏层注入了方差为 $\frac{p}{1-p}h^2$ 的乘性噪声，模型必须对这种扰动保持稳定，
#         降低了有效容量。实验中的表现是：$p$ 增大时训练集上的拟合程度下降、泛化差距缩小；
#         测试准确率却未必随之提高，收益取决于模型过拟合的程度（见上面的扫描）；$p$ 过大时则欠拟合。
#
#         **训练与测试的不同处理。** 训练时需要随机性来获得上述正则化效果；测试时需要确定、可复现且尽可能准确的预测，
#         所以关闭 Dropout，使用完整网络（相当于对子网络集成取平均）。为了让两种模式下下一层的输入尺度一致，
#         训练时对保留的输出乘以 $\frac{1}{1-p}$，使 $\mathbb{E}[h'] = h$；这样测试时无需任何修改。
#         若不做这种缩放，测试时每层输入的尺度会整体放大 $\frac{1}{1-p}$ 倍，与训练时不一致，预测就会出错。
#         工程上，这意味着推理前必须调用 `model.eval()`。

# %% [markdown]
# ## 练习与思考
#
# 下面的题目各有折叠的提示和参考答案：先自己想（需要时动手跑一跑），再展开对照。
#
# !!! question "练习 A：Dropout 前后的方差"
#     设某个激活值 $h$ 是固定的数，$h' = m h/(1-p)$，$m \sim \operatorname{Bernoulli}(1-p)$。求 $\mathbb{E}[h']$ 和 $\operatorname{Var}(h')$；若 $h$ 本身是随机的（均值 $\mu$、方差 $s^2$，与 $m$ 独立），$\operatorname{Var}(h')$ 又是多少？
#
#     ??? tip "提示"
#         $m^2 = m$，$\mathbb{E}[m] = 1 - p$；随机的 $h$ 用 $\mathbb{E}[h^2] = s^2 + \mu^2$。
#
#     ??? success "参考答案"
#         $\mathbb{E}[h'] = h$，$\mathbb{E}[h'^2] = h^2/(1-p)$，所以 $\operatorname{Var}(h') = \dfrac{p}{1-p}h^2$（$p = 0.5$ 时等于 $h^2$）。
#         $h$ 随机时由全方差公式：$\operatorname{Var}(h') = \dfrac{\mathbb{E}[h^2]}{1-p} - \mu^2 = \dfrac{s^2 + p\mu^2}{1-p}$，比不用 Dropout 时的 $s^2$ 大。
#         测试时不丢弃，方差回到 $s^2$：训练与测试时下一层输入的方差不同，这也是 Dropout 与 BatchNorm 一起用时要注意的地方。
#
# !!! question "练习 B：每层不同的丢弃概率（MLP）"
#     d2l 的多层感知机在两个隐藏层后分别用 $p_1 = 0.2$、$p_2 = 0.5$。仿照 `RegularizedNetwork`，用你写的 `dropout_layer` 写一个这样的 MLP 的 `forward`。为什么靠近输入的层通常用较小的 $p$？
#
#     ??? tip "提示"
#         只在 `self.training` 为真时调用 `dropout_layer`；丢弃发生在激活函数之后。
#
#     ??? success "参考答案"
#         `h1 = relu(lin1(x)); h1 = dropout_layer(h1, p1) if self.training else h1; h2 = relu(lin2(h1)); h2 = dropout_layer(h2, p2) if self.training else h2; return lin3(h2)`。
#         靠近输入的层丢掉的是原始特征（像素），丢多了等于直接毁掉输入信息；后面的层表示冗余更多、参数也更多，更需要也更能承受较强的正则化。
#
# !!! question "练习 C：线性回归上的 Dropout"
#     对线性模型，在输入上用 Dropout：$\hat y = \mathbf{w}^\top(\mathbf{m}\odot\mathbf{x})/(1-p)$。计算 $\mathbb{E}_{\mathbf m}[(\hat y - y)^2]$，它对应什么样的正则化？
#
#     ??? tip "提示"
#         $\hat y$ 是独立伯努利变量的加权和：先求它的均值和方差，再用 $\mathbb{E}[(\hat y - y)^2] = (\mathbb{E}\hat y - y)^2 + \operatorname{Var}(\hat y)$。
#
#     ??? success "参考答案"
#         $\mathbb{E}[\hat y] = \mathbf{w}^\top\mathbf{x}$，$\operatorname{Var}(\hat y) = \dfrac{p}{1-p}\sum_i w_i^2 x_i^2$，所以
#         $\mathbb{E}[(\hat y - y)^2] = (\mathbf{w}^\top\mathbf{x} - y)^2 +$ $\dfrac{p}{1-p}\sum_i w_i^2x_i^2$：一个按特征尺度 $x_i^2$ 加权的 L2 惩罚（Wager 等，2013）。
#         这把本章与 L2 一章联系了起来：Dropout 在平均意义下是一种自适应的权重惩罚。
#
# !!! question "练习 D：为什么在训练时缩放"
#     原论文训练时不缩放、测试时把权重乘以 $1-p$；本站（和 PyTorch）训练时除以 $1-p$、测试时什么都不做。两者为什么等价？工程上哪个更方便？
#
#     ??? tip "提示"
#         比较两种做法下，测试时下一层输入的期望与训练时的期望。
#
#     ??? success "参考答案"
#         两者都保证测试时下一层输入的期望与训练时相同：一个在训练时把期望补回 $h$，另一个在测试时把 $h$ 缩到训练时的期望 $(1-p)h$。
#         训练时缩放（inverted dropout）让推理代码与没有 Dropout 的模型完全相同，部署时不用改权重，也不会忘记缩放，所以成为通行做法。
