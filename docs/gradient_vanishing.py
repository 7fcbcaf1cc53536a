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
# # 梯度消失
#
# !!! abstract "本章要点"
#     网络越深，反向传播时梯度要连乘的因子就越多。如果每个因子都小于 1，浅层（靠近输入的层）收到的梯度会**指数级地变小**，
#     这些层的参数几乎不更新，网络学得很慢——这就是**梯度消失**。本章将：
#
#     1. 用链式法则推导第 $l$ 层梯度的表达式，看清"每层乘一次 $\sigma'(z)$ 和 $W^\top$"的结构；
#     2. 由 $\sigma' \le \tfrac14$ 说明 Sigmoid 网络为什么首当其冲，并估计每层大约衰减多少；
#     3. 在 MNIST 上训练 ReLU、Sigmoid、Tanh 等激活函数的多层感知机，**逐层**测量梯度，并对比训练速度；
#     4. 改变网络深度，观察第一层梯度如何随深度变化；
#     5. 测量初始化过大时的梯度爆炸，讨论缓解梯度消失与爆炸的常用办法。
#
# 前置知识：[激活函数](activations.py)一章中推导的各激活函数的导数及其上界。

# %% [markdown]
# ## 反向传播中的连乘
#
# 考虑一个有 $L$ 个隐藏层的多层感知机。记输入为 $\mathbf{h}_0 = \mathbf{x}$，对 $l = 1, \dots, L$：
#
# $$
# \mathbf{z}_l = W_l\,\mathbf{h}_{l-1} + \mathbf{b}_l, \qquad \mathbf{h}_l = \sigma(\mathbf{z}_l),
# $$
#
# 输出层 $\mathbf{o} = W_{L+1}\mathbf{h}_L + \mathbf{b}_{L+1}$，损失为 $\ell(\mathbf{o}, y)$（本章用交叉熵）。
# 其中 $\sigma$ 逐元素作用，$\mathbf{z}_l$ 称为第 $l$ 层的**预激活值**。
#
# 定义误差信号 $\boldsymbol{\delta}_l = \partial \ell / \partial \mathbf{z}_l$（列向量）。输出端的误差信号很简单，
# 对 softmax 交叉熵有 $\boldsymbol{\delta}_{L+1} = \partial\ell/\partial\mathbf{o} = \operatorname{softmax}(\mathbf{o}) - \mathbf{e}_y$。
# 由于 $\mathbf{z}_{l+1} = W_{l+1}\,\sigma(\mathbf{z}_l) + \mathbf{b}_{l+1}$，雅可比矩阵为
#
# $$
# \frac{\partial \mathbf{z}_{l+1}}{\partial \mathbf{z}_l} = W_{l+1}\,D_l,
# \qquad D_l = \operatorname{diag}\bigl(\sigma'(\mathbf{z}_l)\bigr),
# $$
#
# 链式法则给出误差信号的**逐层递推**：
#
# $$
# \boldsymbol{\delta}_l = D_l\,W_{l+1}^\top\,\boldsymbol{\delta}_{l+1}.
# $$
#
# 每一层参数的梯度则由该层的误差信号与该层的输入相乘得到：
#
# $$
# \begin{gathered}
# \frac{\partial \ell}{\partial W_l} = \boldsymbol{\delta}_l\,\mathbf{h}_{l-1}^\top,
# \\[1.5ex]
# \frac{\partial \ell}{\partial \mathbf{b}_l} = \boldsymbol{\delta}_l .
# \end{gathered}
# $$
#
# 把递推展开到输出层：
#
# $$
# \boldsymbol{\delta}_l = D_l W_{l+1}^\top\; D_{l+1} W_{l+2}^\top \cdots D_L W_{L+1}^\top\; \boldsymbol{\delta}_{L+1}.
# $$
#
# 第 $l$ 层的梯度里含有 $L - l + 1$ 个"$D_k W_{k+1}^\top$"因子的乘积：越靠近输入的层，连乘的因子越多。
#
# ### Sigmoid 的上界：导数因子每层不超过 1/4
#
# 对矩阵乘积取谱范数（最大奇异值），利用 $\|AB\| \le \|A\|\,\|B\|$：
#
# $$
# \begin{gathered}
# \|\boldsymbol{\delta}_l\| \le \prod_{k=l}^{L} \|D_k\|\,\|W_{k+1}\| \cdot \|\boldsymbol{\delta}_{L+1}\|,
# \\[1ex]
# \|D_k\| = \max_j \bigl|\sigma'(z_{k,j})\bigr| .
# \end{gathered}
# $$
#
# 对 Sigmoid，上一章证明了 $\sigma'(z) \le \tfrac14$，因此
#
# $$
# \|\boldsymbol{\delta}_1\| \le \left(\tfrac14\right)^{L} \prod_{k=2}^{L+1}\|W_k\| \cdot \|\boldsymbol{\delta}_{L+1}\| .
# $$
#
# 除非每层权重的谱范数都大于 4（通常的初始化远小于此），这个上界随深度**指数**下降。
# 而且 $\tfrac14$ 只是最好情况：一旦预激活值落入饱和区，$\sigma'$ 还会小得多。
#
# ### 典型情况下每层衰减多少
#
# 上界可能很松，我们再粗略估计一下"典型"的衰减率。PyTorch 的 `nn.Linear` 默认把权重初始化为
# $W_{ij} \sim U\!\left(-\tfrac{1}{\sqrt{n}}, \tfrac{1}{\sqrt{n}}\right)$（$n$ 为输入维数），方差为 $\tfrac{1}{3n}$。
# 对一个与 $W$ 无关的向量 $\mathbf{v}$，$W^\top\mathbf{v}$ 的每个分量是 $\sum_i W_{ij} v_i$，其方差为 $\|\mathbf{v}\|^2/(3n)$，
# 共 $n$ 个分量，于是
#
# $$
# \begin{gathered}
# \mathbb{E}\,\|W^\top \mathbf{v}\|^2 = \tfrac13\,\|\mathbf{v}\|^2,
# \\[1ex]
# \|W^\top\mathbf{v}\| \approx 0.58\,\|\mathbf{v}\| .
# \end{gathered}
# $$
#
# 再乘以 $D_l$：
#
# - **Sigmoid**：初始化时预激活值较小，$\sigma'(z) \approx \tfrac14$，每层因子约为 $0.58 \times 0.25 \approx 0.14$。
#   经过 5 层，误差信号就缩小到约 $0.14^5 \approx 5\times 10^{-5}$。
# - **Tanh**：小预激活值处 $\tanh'(z) \approx 1$，每层因子约为 $0.58$，同样在衰减，但慢得多。
# - **ReLU**：约一半单元处于正半轴、导数为 1，另一半导数为 0，$\mathbb{E}[\sigma'(z)^2] = \tfrac12$，
#   每层因子约为 $0.58 \times \sqrt{1/2} \approx 0.41$。
#
# 但权重梯度 $\boldsymbol{\delta}_l\mathbf{h}_{l-1}^\top$ 还要乘上**该层的输入** $\mathbf{h}_{l-1}$，所以还得看前向信号。
# 前向信号要分成两部分看：**均值**，和**随输入变化的部分**（同一个神经元在不同图片上的取值差异）。
# 只有后者携带关于输入的信息。
#
# Sigmoid 的输出均值恒在 $0.5$ 附近，这一部分不会缩小；但随输入变化的部分会。两张图片在第 $l$ 层预激活值上的差
# $\Delta\mathbf{z}_l$，经过 Sigmoid 变成 $\Delta\mathbf{h}_l \approx \sigma'(0)\,\Delta\mathbf{z}_l = \tfrac14\Delta\mathbf{z}_l$，
# 再经过下一层权重（约 $0.58$ 倍），每层同样约乘 $0.14$——**与反向的误差信号衰减得一样快**。
# 几层之后，网络的输出（logits）随输入的变化就很小：它对不同图片给出几乎相同的输出。
# 信息并没有丢失——变化虽小，仍然随输入而变；问题在于**条件数**：损失对"与输入有关的方向"的梯度极小，
# 而对"与输入无关的方向"（例如输出层偏置，决定各类别的整体偏好）的梯度正常。梯度下降会先把后者调好，
# 然后在一个很长的**平台期**里几乎不动，准确率在这段时间里停在随机猜测（10%）附近。
# 我们预期：训练得足够久（或学习率足够大），网络会离开平台；这只是预期，本章的短训练预算分不清"卡住"与"很慢"。
# ReLU 和 Tanh 在默认初始化下每层因子约为 $0.41$ 和 $0.58$，也在衰减，但慢得多。
#
# 下面的实验会在初始化时直接测出每一层"随输入变化的幅度"，让这个解释落在数字上。
#
# !!! info "梯度爆炸是同一枚硬币的另一面"
#     如果每层因子 $\|D_k\|\,\|W_{k+1}\|$ 都大于 1，同样的连乘会让梯度指数级**增长**，参数更新一步就跳出合理范围，损失变成 `NaN`。
#     好的初始化的目的，正是让每层因子的期望大约等于 1，使信号在前向和反向两个方向上都既不消失也不爆炸。
#     每层因子约为 $\sqrt{n \operatorname{Var}(W_{ij})\,\mathbb{E}[\sigma'(z)^2]}$：
#
#     - **Xavier/Glorot 初始化**取 $\operatorname{Var}(W_{ij}) = \tfrac{2}{n_\text{in} + n_\text{out}}$（方阵时即 $\tfrac1n$），
#       配合 Tanh（$\tanh'(0) = 1$）时因子为 $1$。它是为 Tanh 这类在 0 附近斜率为 1 的函数设计的。
#     - 对 Sigmoid，同样的方差只给出 $\sigma'(0) = \tfrac14$：每层仍缩小到 $\tfrac14$。要让因子为 1，
#       需要 $\operatorname{Var}(W_{ij}) \approx \tfrac{16}{n}$（权重的标准差大 4 倍）；而且 Sigmoid 的输出均值是 $0.5$ 而不是 0，
#       会让下一层的预激活值整体偏移、容易落入饱和区。这也是隐藏层不再使用 Sigmoid 的原因之一。
#     - **He/Kaiming 初始化**取 $\operatorname{Var}(W_{ij}) = \tfrac{2}{n}$，配合 ReLU（$\mathbb{E}[\sigma'(z)^2] = \tfrac12$）时因子
#       $\sqrt{n \cdot \tfrac{2}{n} \cdot \tfrac12} = 1$。

# %% [markdown]
# ## 实验：逐层测量梯度
#
# 我们在 MNIST 上训练与原实验相同结构的多层感知机 `Network`：输入层 $784 \to 100$，若干个 $100 \to 100$ 的隐藏层，
# 输出层 $100 \to 10$，每个线性层（输出层除外）之后接同一种激活函数。对每种激活函数，实验在每个 epoch 记录：
#
# - 训练集准确率和测试集准确率；
# - 每个线性层**权重**梯度的平均绝对值 $\overline{|\partial\ell/\partial W_l|}$，在该 epoch 的所有批次上取平均。
#
# ### 练习：写出前向传播和逐层梯度统计
#
# 原实验把 `Network.forward` 留作练习，构造函数是现成的：`Network(input_dim, output_dim, activation_name, num_layers)`
# 建好三个属性——输入层 `input_layer`（$784 \to 100$）、`num_layers` 个隐藏层组成的 `layers`（`nn.ModuleList`，每个 $100 \to 100$）、
# 输出层 `output_layer`（$100 \to 10$），以及激活函数 `activation`。这里的 `Network` 继承 `labcode.models.Network`，
# 构造函数和属性名与原实验完全相同，你只需要写 `forward`。
#
# !!! example "练习 2.1：`Network.forward`"
#     顺序是：输入层 → 激活函数 → 每个隐藏层之后各接一次激活函数 → 输出层。输出层之后**不**接激活函数：
#     交叉熵损失自己会做 softmax。`check_forward` 会用钩子记录每一层实际收到的输入，与参考实现逐层对照，
#     指出第几层出了问题、可能的原因是什么。
#
# 本章后面的实验用的就是**你写的这个 `Network`**（`run_gradient_vanishing(network_cls=Network)`）。

# %%
# %matplotlib inline
import warnings

import torch

from labcode import lessons, plots
from labcode.data import MnistFallbackWarning
from labcode.experiments import run_depth_sweep, run_gradient_vanishing
from labcode.models import Network as ReferenceNetwork
from labcode.profiles import config_rows
from labcode.selfcheck import check_forward, check_gradient_stats


class Network(ReferenceNetwork):
    def forward(self, x):
        x = x.flatten(1)  # MNIST 的 (B, 1, 28, 28) 展平成 (B, 784)
        # BEGIN SOLUTION 练习 2.1：请实现 Network.forward（检查：check_forward）
        x = self.activation(self.input_layer(x))
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.output_layer(x)
        # END SOLUTION


check_forward(Network)

# %% [markdown]
# !!! example "练习 2.2：逐层的梯度统计"
#     写 `layer_gradient_means(model)`：`backward()` 之后，对每个线性层的**权重**（不含偏置）求梯度绝对值的平均
#     $\overline{|\partial\ell/\partial W_l|}$，按从输入层到输出层的顺序返回一个列表，每层一个字典 `{"layer": 层名, "mean": 数值}`。
#     提示：`model.linear_layers()` 按顺序给出 `(层名, nn.Linear)`。原实验对 `named_parameters()` 的每个张量都算一个"层"，
#     权重和偏置交替出现——检查函数会认出这个错误。
#
#     这个练习是独立的：本章的实验用 `labcode.metrics.analyze_gradients`（同一定义）统计梯度，不调用你写的函数。


# %%
def layer_gradient_means(model):
    # BEGIN SOLUTION 练习 2.2：请实现 layer_gradient_means（检查：check_gradient_stats）
    return [
        {"layer": name, "mean": layer.weight.grad.abs().mean().item()}
        for name, layer in model.linear_layers()
    ]
    # END SOLUTION


check_gradient_stats(layer_gradient_means)

# %% [markdown]
# ### 运行实验
#
# 实验的全部设置（深度、学习率、epoch 数、批大小）来自当前的运行配置（`quick` 或 `full`），会随结果一起打印出来。
# 先用一个随机种子训练，画出曲线作为**示例**；本章的结论则在后面用 5 个种子配对检查（见"结论检查"）。

# %%
warnings.simplefilter("ignore", MnistFallbackWarning)  # 用的是哪份数据，实验输出中会写明

res = run_gradient_vanishing(network_cls=Network)  # 你写的 Network
print(res.data_description, "| 设备：", res.device, "| 规模：", res.profile)
for note in res.notes:
    print(note)
print("设置：", "，".join(f"{k}={v}" for k, v in config_rows(res.config)))

# %% [markdown]
# !!! note "与原实验的不同"
#     - **只统计权重，按层排列。** 原实验对 `named_parameters()` 中的每个张量都算一个"层"，
#       于是权重和偏置交替出现在横轴上，所谓"第 3 层"其实是第 2 个线性层的权重。这里每个线性层只取其权重，从输入层到输出层排列。
#     - **取整个 epoch 的平均。** 原实验虽然每个批次都记录了梯度，画图时却只用了最后一个批次，
#       单个批次的梯度噪声很大；这里对每个 epoch 内所有批次取平均。
#     - **增加了深度扫描。** 主实验保留原实验的 2 个隐藏层（`num_layers=2`）：在这个深度上 Sigmoid 第一层与最后一层的
#       梯度已经相差很大（实测倍数见下面的结论检查）。另外专门做了深度扫描，看这个比值如何随深度变化，以及初始化能改变什么。
#     - **结论跨种子检查。** 一次运行的数字会随随机种子（初始权重、批次顺序）变化。下面的每条结论都在 5 个种子上
#       配对比较（同一种子的各网络初始权重的抽样方式、数据顺序都相同），打印出的说明写明了所用的判据；只用一个种子的图和表只作示例。
#
# 先看训练过程中的准确率：

# %%
fig = plots.plot_accuracy_curves(res)
fig

# %% [markdown]
# 再看最后一个 epoch 各层权重梯度的大小（横轴从输入层到输出层）：

# %%
fig = plots.plot_gradients(res)
fig

# %% [markdown]
# 读图时注意纵轴是**对数坐标**：相邻刻度相差 10 倍。请在图中找到以下几点：
#
# 1. Sigmoid 曲线从输出层（右）到输入层（左）下降得有多陡？第一层与最后一层之间差了几个数量级？
# 2. 在第一层（输入层）处，Sigmoid 与 ReLU 的梯度相差多少？ReLU 和 Tanh 的曲线是否平坦得多？
# 3. 前一张图中哪条准确率曲线上升最慢？这与梯度图是否吻合？
#
# 上面的图只是一个种子的示例。下面在 5 个种子上重复本章所有结论需要的网络（2 个隐藏层的三种激活函数，
# 以及 8 个隐藏层的 Sigmoid、ReLU 和 He 初始化的 ReLU，与上面同样的设置；种子 0 上已经训练过的网络直接复用），
# 再让 `lessons` 模块用这些实测数字核对结论（每条结论都是对结果的一个检验，附带实测值和判据）：

# %%
from labcode.experiments import run_gradient_seeds

seeds = run_gradient_seeds(reuse=res)
for note in seeds.notes:
    print(note)
lessons.report(
    [
        lessons.sigmoid_first_layer_vanishes(seeds),
        lessons.sigmoid_learns_slowest(seeds),
        lessons.sigmoid_vanishes_without_saturation(seeds),
    ]
)

# %% [markdown]
# 第三条检查值得留意：常听到的解释是"Sigmoid 饱和了，所以梯度消失"。本章的设置里并非如此：训练结束时几乎没有对所有样本都饱和的
# Sigmoid 神经元，导数的平均值接近它的上限 $\tfrac14$（实测值见上）。梯度消失来自连乘本身：即使每层都取到最好的 $\tfrac14$，
# 再乘以权重带来的约 $0.58$，每层仍只剩约 $0.14$。饱和会让情况更糟，但不是这里的原因。

# %% [markdown]
# ## 前向信号：Sigmoid 网络的输出随输入变化很小
#
# 上面的结论检查里，2 个隐藏层的 Sigmoid 网络在这个训练预算内的测试准确率停在随机猜测的水平（每个种子的数字见上）。
# 这个预算分不清它是"卡住了"还是"很慢"（后面深度扫描的示例图里，可以看看只有 1 个隐藏层的 Sigmoid 网络在同样的预算内怎样）。
# 原因在前面的推导中：随输入变化的前向信号每层约乘 $0.14$。我们在**初始化时**（训练开始之前）直接量一下：
# 取 1000 张测试图，对每一层的每个神经元求它在这 1000 张图上取值的标准差，再对神经元取平均
# （`labcode.forward_signal.activation_spread`）。表中是与主实验完全相同的网络（同深度、同宽度、种子 0）；
# 下面的结论检查在 5 个种子上做同样的测量。

# %%
from labcode.experiments.spreads import forward_spreads
from labcode.forward_signal import spread_table

spreads = forward_spreads(res)  # 初始化时，1000 张测试图（种子 0，示例）
print(spread_table(spreads))
lessons.report([lessons.sigmoid_forward_signal_collapses(seeds)])

# %% [markdown]
# Sigmoid 一列每往下一层缩小的倍数（见结论检查）与 $0.58 \times \tfrac14 \approx 0.14$ 的估计吻合；到了输出层，
# logits 随输入的变化比 Tanh 网络小一个数量级以上。变化小不等于没有：输入的信息仍在，只是损失对与输入有关的参数方向
# 几乎"不敏感"，梯度下降先调好与输入无关的部分（各类别的偏好），然后进入平台期——这是一个**条件数**问题。
# 更长的训练、更大的学习率、更好的初始化或归一化层都能帮它离开平台，这里不作测量。
# ReLU 与 Tanh 的列也在逐层缩小，只是慢得多：这为下面的深度扫描埋下了伏笔。

# %% [markdown]
# ## 深度扫描：梯度随深度指数衰减
#
# 推导告诉我们：每增加一个隐藏层，第一层的误差信号就要多乘一个"$D_k W_{k+1}^\top$"因子，而最后一层的梯度不受影响。
# 如果这个因子大致不变，**第一层与最后一层梯度之比**与深度的关系就是指数函数，在对数纵轴上表现为一条直线，斜率就是每层因子的对数。
# 下面对不同的隐藏层数分别训练网络（为节省时间，每个网络只训练几个 epoch），记录这个比值和最终的测试准确率：

# %%
# 前面跨种子的运行中种子 0 的网络（同深度、同种子、同轮数）直接复用：reuse=seeds
sweep = run_depth_sweep(reuse=seeds)
for note in sweep.notes:
    print(note)
fig = plots.plot_depth_sweep(sweep)
fig

# %% [markdown]
# 下面的图可以交互：拖动滑块选择隐藏层个数，勾选要比较的激活函数与初始化，看最后一个 epoch 各层的平均 |grad| 怎样随深度变化；静态图见上。

# %%
from labcode import interactive

interactive.gradient_explorer(sweep)

# 扫描图是一个种子的示例；下面的结论检查用的是 5 个种子上 2 个与 8 个隐藏层的网络：

# %%
lessons.report(
    [
        lessons.depth_makes_sigmoid_vanish(seeds),
        lessons.relu_ratio_falls_far_less(seeds),
        lessons.initialisation_rescues_depth(seeds),
    ]
)

# %% [markdown]
# 上图中 Sigmoid 的折线随深度近似一条直线下降，这正是指数衰减。默认初始化的 ReLU 的比值也在下降
# （上面的结论检查给出了从最浅到最深缩小的倍数），只是比 Sigmoid 少了好几个数量级。
# 从 Sigmoid 折线的斜率可以读出每加一层梯度缩小的倍数（纵轴跨过的数量级数 ÷ 横轴增加的层数），请把它与前面"每层约 0.14 倍"的粗略估计比较。
#
# 下图则提醒我们：梯度消失并不是 Sigmoid 独有的问题，只是 Sigmoid 最严重。在这样短的训练预算和 PyTorch 默认初始化下，
# 网络加深后默认初始化的 ReLU 网络的准确率也掉到了随机猜测（见结论检查；示例图中的 Tanh 也是如此）。回忆前面的估计：默认初始化下 ReLU 的每层因子约为 $0.41$，
# 不仅误差信号逐层缩小，前向信号也逐层缩小（前面那张表的 ReLU 一列），深层网络的输出随输入的变化很小，训练初期便难以起步。
#
# 扫描里还有两条线：**He 初始化的 ReLU** 和 **Xavier 初始化的 Tanh**（`labcode.forward_signal.init_weights`）。
# 网络结构、数据、学习率和训练轮数都不变，只换了初始权重的方差，使每层因子约为 1。上面的结论检查给出了最深处 ReLU 两种初始化在
# 5 个种子上的准确率：合适的初始化让同样深的网络重新能够训练（Xavier 初始化的 Tanh 只在示例图中，没有跨种子检查）。归一化层和残差连接则从另外的方向解决同一个问题。

# %% [markdown]
# ## 梯度爆炸：初始化过大
#
# 反过来，把 ReLU 网络的权重方差取成 He 初始化的 2 倍（$\operatorname{Var}(W_{ij}) = 4/n$），每层因子约为 $\sqrt2$（见后面的练习 A）。
# 下面不训练，只在初始化时对训练集的前 256 张图做一次反向传播，比较三种初始化下 8 个隐藏层的 ReLU 网络各层权重梯度的范数
# （表是种子 0 的示例，结论检查用 5 个种子）：

# %%
from labcode.experiments import run_init_gradients

burst = run_init_gradients(depth=8)
print("各层权重梯度的范数（种子 0；从输入层到输出层）和初始损失：")
for init, label in (("default", "默认初始化"), ("he", "He 初始化"), ("large", "Var(W)=4/n")):
    run = burst[f"{init}/seed=0"]
    norms = "  ".join(f"{v:8.3g}" for v in run.summary["grad_norm"])
    print(f"{label:>10}：{norms}  | 损失 {run.summary['loss']:.3g}")
lessons.report(lessons.check_all(burst))

# %% [markdown]
# 注意表中 $\operatorname{Var}(W) = 4/n$ 的一行：梯度并不是只在靠近输入的层变大，而是**每一层**都大了差不多同样的倍数。
# 原因是前向信号也每层放大约 $\sqrt2$：第 $l$ 层的权重梯度 $\boldsymbol\delta_l\mathbf{h}_{l-1}^\top$ 中，$\boldsymbol\delta_l$ 经过上面各层放大，
# $\mathbf{h}_{l-1}$ 经过下面各层放大，乘积对每一层大约都是 $(\sqrt2)^{L-1}$ 倍；logits 变大后 softmax 饱和、损失变大，又让它再大一些。
# 默认初始化的一行正相反：越靠近输入，梯度越小——这就是前面的梯度消失。
#
# 用原来的学习率训练，这样大的梯度会让一步更新走得太远，我们预期损失会剧烈振荡甚至发散（这里不作测量）。两种办法：
#
# - **合适的初始化**：He 初始化的一行，各层梯度的范数在同一量级；
# - **梯度裁剪**：在 `optimizer.step()` 之前调用 `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)`，
#   它把整个梯度向量按同一比例缩小到范数不超过 `max_norm`，方向不变。裁剪限制的是单步的大小，并不改变网络本身的条件，
#   所以它是训练循环网络（梯度沿时间连乘）的常用保险，而不是糟糕初始化的替代品。
#
# !!! tip "怎样缓解梯度消失"
#     - **换激活函数**：ReLU 及其变体在正半轴导数为 1，不会因为导数而系统性地缩小梯度。
#     - **合适的初始化**：Xavier/Glorot 初始化（$\operatorname{Var}(W_{ij}) = \tfrac{2}{n_\text{in} + n_\text{out}}$）配合 Tanh，
#       He/Kaiming 初始化（$\operatorname{Var}(W_{ij}) = \tfrac{2}{n_\text{in}}$）配合 ReLU，使每层因子约为 1。
#     - **归一化层**：BatchNorm、LayerNorm 先把每层的预激活值归一化为均值 0、方差 1，再做可学习的缩放 $\gamma$ 和平移 $\beta$，
#       防止其漂入饱和区。
#     - **残差连接**：$\mathbf{h}_{l+1} = \mathbf{h}_l + F(\mathbf{h}_l)$ 的雅可比矩阵是 $I + \partial F/\partial \mathbf{h}_l$，
#       其中的单位阵为梯度提供了一条"直达"浅层的通路。这是 ResNet 能训练上百层、Transformer 能堆叠几十层的关键。
#     - **门控结构**：LSTM、GRU 用加法更新记忆单元，缓解循环网络在时间方向上的梯度消失。

# %% [markdown]
# ## 思考题
#
# ??? question "思考题 2：为什么训练准确率会和激活函数的选择有关？这与梯度分布有什么关系？"
#
#     ??? tip "提示"
#         - 比较三种激活函数导数的取值范围：$\sigma' \in (0, \tfrac14]$，$\tanh' \in (0, 1]$，$\operatorname{ReLU}' \in \{0, 1\}$。
#           在递推式 $\boldsymbol{\delta}_l = D_l W_{l+1}^\top \boldsymbol{\delta}_{l+1}$ 中，它们分别意味着什么？
#         - 梯度只有最后一层的千分之一时，用同一个学习率，第一层的参数在一个 epoch 里能移动多远？
#           如果前几层几乎停在随机初始化的位置，后面的层面对的是什么样的特征？
#         - Sigmoid 的输出恒为正。对某个神经元，它的权重梯度 $\delta_j\,\mathbf{h}_{l-1}^\top$ 各分量的符号有什么特点？
#         - ReLU 为什么更受欢迎？除了导数，也想想计算代价和激活的稀疏性。它有没有自己的问题？
#
#     ??? success "参考思路"
#         反向传播中每经过一层，误差信号都要乘以该层激活函数的导数和下一层权重的转置。
#         Sigmoid 的导数最大只有 $\tfrac14$，在默认初始化下每层约缩小到 $0.14$ 倍，越靠近输入的层梯度越小，
#         本实验中第一层比最后一层小了几个数量级（见上面的实测输出）。
#         更要紧的是前向方向：Sigmoid 输出的均值恒为 0.5，但**随输入变化的部分**同样每层约乘 $0.14$，
#         输出层的 logits 随输入的变化很小（上面的表）。信息还在，但损失对与输入有关的参数方向很不敏感（条件数很差），
#         训练先调好与输入无关的部分，然后停在一个平台上：本章的训练预算内，2 个隐藏层的 Sigmoid 网络在每个种子上都停在随机猜测附近
#         （见结论检查）。这个预算分不清"卡住"与"很慢"；更长的训练能否离开平台，本章没有测量。
#         （注意这与"只训练最后一层"不同：在随机特征上训练好最后一层，准确率会远高于随机猜测；这里连最后一层看到的特征都只随输入有很小的变化。）
#
#         Sigmoid 的输出恒为正还带来一个次要的问题：对**单个样本**，同一神经元所有输入权重的梯度 $\delta_j\,h_{l-1,i}$ 都与 $\delta_j$ 同号，
#         这个样本只能让它们同增同减，更新路线呈"之"字形。但有两点保留：一个小批量对多个样本求和后，各分量的符号就不必相同了；
#         第一层的输入是归一化后的像素，有正有负，这个论证对第一层不成立。
#
#         Tanh 的导数上界为 1 且以零为中心，衰减慢得多；ReLU 在激活区域导数恒为 1，梯度可以不打折扣地穿过，
#         计算只需一次比较，还产生稀疏激活，因此成为隐藏层的默认选择。
#         但"ReLU 更适合深层网络"需要一个前提：合适的初始化。本章的深度扫描里，默认初始化的 ReLU 网络加深后准确率掉到随机猜测，
#         而 He 初始化的 ReLU 网络在最深处仍能训练（见上面的深度扫描和它的结论检查）。
#         但 ReLU 在负半轴导数为 0，可能导致神经元"死亡"（下一章），并且它本身并不能阻止梯度因权重过小而衰减，
#         仍需配合 He 初始化、归一化层、残差连接等手段。

# %% [markdown]
# ## 练习与思考
#
# 下面的题目各有折叠的提示和参考答案：先自己想（需要时动手跑一跑），再展开对照。
#
# !!! question "练习 A：梯度爆炸"
#     把 ReLU 网络的权重方差取成 He 初始化的 2 倍，$\operatorname{Var}(W_{ij}) = 4/n$。按正文的估计，每层因子是多少？50 层后梯度大约放大多少倍？
#
#     ??? tip "提示"
#         每层因子 $\sqrt{n \operatorname{Var}(W_{ij})\,\mathbb{E}[\sigma'(z)^2]}$，ReLU 的 $\mathbb{E}[\sigma'(z)^2] = \tfrac12$。
#
#     ??? success "参考答案"
#         每层因子 $\sqrt{n \cdot \tfrac4n \cdot \tfrac12} = \sqrt2$。50 层后约为 $(\sqrt2)^{50} = 2^{25} \approx 3.4\times 10^{7}$ 倍：
#         同一个学习率下，浅层的一步更新会大到让损失变成 `NaN`。这就是"梯度爆炸"：与梯度消失是同一个连乘，只是因子大于 1。
#
# !!! question "练习 B：对称性"
#     如果把某个隐藏层的所有权重都初始化为同一个常数（比如 0.01），这一层的各个神经元在训练中会怎样？用小批量 SGD 训练能打破这种对称吗？Dropout 呢？
#
#     ??? tip "提示"
#         两个神经元的输入权重完全相同时，它们的输出和收到的误差信号 $\delta_j$ 会不会不同？
#
#     ??? success "参考答案"
#         要看**两个条件**：这一层的输入权重都相同，**而且**下一层从这些神经元出发的输出权重也都相同（例如下一层也初始化为常数）。
#         这时同一层的神经元计算完全相同的函数，前向输出相同；误差信号 $\delta_j = \sigma'(z_j)\,(W_{l+1}^\top\boldsymbol\delta_{l+1})_j$
#         中的 $(W_{l+1}^\top\boldsymbol\delta_{l+1})_j$ 对它们也相同，所以同一个小批量给它们的梯度完全相同，每一步更新后仍然相同——这一层实际上只有一个神经元。
#         小批量 SGD 的随机性在于**选哪些样本**，而同一个小批量对这些神经元一视同仁，所以这种噪声分不开它们；随机初始化正是为了打破对称。
#         反过来，如果只有这一层是常数、下一层的权重是随机的，$(W_{l+1}^\top\boldsymbol\delta_{l+1})_j$ 对不同的 $j$ 不同，
#         第一步的梯度就不同，对称随即被打破（虽然起点并不好）。Dropout 每次随机丢弃不同的神经元，
#         也会让它们收到不同的梯度，从而打破对称（但用它来弥补糟糕的初始化并不是好主意）。
#
# !!! question "练习 C：推导 Xavier 初始化"
#     对一个没有激活函数（或在 0 附近斜率为 1 的激活函数）的线性层 $\mathbf{h} = W\mathbf{x}$，$W$ 为 $n_\text{out}\times n_\text{in}$，各元素独立、均值 0、方差 $v$。
#     前向时要求 $\operatorname{Var}(h_i) = \operatorname{Var}(x_j)$，反向时要求梯度的方差也不变，分别得到什么条件？
#
#     ??? tip "提示"
#         $h_i = \sum_j W_{ij}x_j$ 是 $n_\text{in}$ 个独立项之和；反向时把 $W$ 换成 $W^\top$。
#
#     ??? success "参考答案"
#         前向：$\operatorname{Var}(h_i) = n_\text{in}\, v\, \operatorname{Var}(x_j)$，要求 $n_\text{in} v = 1$。
#         反向：$\partial\ell/\partial\mathbf{x} = W^\top \partial\ell/\partial\mathbf{h}$，同理要求 $n_\text{out} v = 1$。
#         除非 $n_\text{in} = n_\text{out}$，两者不能同时满足；Xavier 取折中 $v = \dfrac{2}{n_\text{in} + n_\text{out}}$。
#
# !!! question "练习 D：在自己的 Network 上换初始化"
#     用 `labcode.forward_signal.init_weights(model, "he")` 重新初始化一个 6 个隐藏层的 ReLU 网络，再用 `activation_spread` 量一量各层的幅度，与默认初始化对比。
#     对 Sigmoid 网络，把权重乘以 4（方差放大 16 倍），输出层的幅度会怎样变化？
#
#     ??? tip "提示"
#         每层因子约为 $\sqrt{n\operatorname{Var}(W)}\cdot\sigma'$；Sigmoid 的输出均值不是 0，会影响下一层的预激活值。
#
#     ??? success "参考答案"
#         He 初始化下各层"随输入变化的幅度"大致保持在同一量级，而默认初始化下每层约缩小到 0.3–0.4 倍（本章的表）。
#         Sigmoid 网络的权重放大 4 倍后，$0.58 \times 4 \times \tfrac14 \approx 0.58$：衰减慢了很多，但因为 Sigmoid 输出的均值是 0.5，
#         下一层的预激活值会整体偏移并变大，一部分神经元进入饱和区，$\sigma'$ 远小于 $\tfrac14$，效果不如预期——这是实践中不在隐藏层用 Sigmoid 的原因之一。
