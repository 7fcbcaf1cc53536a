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
#     5. 讨论缓解梯度消失的常用办法。
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
# \|\boldsymbol{\delta}_l\| \le \prod_{k=l}^{L} \|D_k\|\,\|W_{k+1}\| \cdot \|\boldsymbol{\delta}_{L+1}\|,
# \qquad \|D_k\| = \max_j \bigl|\sigma'(z_{k,j})\bigr| .
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
# \mathbb{E}\,\|W^\top \mathbf{v}\|^2 = \tfrac13\,\|\mathbf{v}\|^2,
# \qquad \|W^\top\mathbf{v}\| \approx 0.58\,\|\mathbf{v}\| .
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
# 但权重梯度 $\boldsymbol{\delta}_l\mathbf{h}_{l-1}^\top$ 还要乘上**该层的输入** $\mathbf{h}_{l-1}$。
# ReLU（以及线性区内的 Tanh）的前向信号 $\mathbf{h}_l$ 也以相近的比例逐层缩小，越靠近输出的层输入越小，
# 与越靠近输入的层误差信号越小在很大程度上相互抵消，各层权重梯度之间的差别因此小得多。
# Sigmoid 则不同：无论预激活值多小，它的输出都在 $0.5$ 附近，前向信号**不会**逐层缩小，
# 误差信号的指数衰减便原封不动地体现在权重梯度上。这就是 Sigmoid 深层网络首当其冲的原因。
#
# !!! info "梯度爆炸是同一枚硬币的另一面"
#     如果每层因子 $\|D_k\|\,\|W_{k+1}\|$ 都大于 1，同样的连乘会让梯度指数级**增长**，参数更新一步就跳出合理范围，损失变成 `NaN`。
#     好的初始化（Xavier/Glorot 初始化用于 Tanh/Sigmoid，He/Kaiming 初始化用于 ReLU）的目的，
#     正是让每层因子的期望大约等于 1，使信号在前向和反向两个方向上都既不消失也不爆炸。
#     例如 He 初始化取 $\operatorname{Var}(W_{ij}) = 2/n$，此时 ReLU 的每层因子 $\sqrt{n \cdot \tfrac{2}{n} \cdot \tfrac12} = 1$。

# %% [markdown]
# ## 实验：逐层测量梯度
#
# 我们在 MNIST 上训练与原实验相同结构的多层感知机 `Network`：输入层 $784 \to 100$，若干个 $100 \to 100$ 的隐藏层，
# 输出层 $100 \to 10$，每个线性层（输出层除外）之后接同一种激活函数。对每种激活函数，实验在每个 epoch 记录：
#
# - 训练集准确率和测试集准确率；
# - 每个线性层**权重**梯度的平均绝对值 $\overline{|\partial\ell/\partial W_l|}$，在该 epoch 的所有批次上取平均。
#
# !!! example "动手：写出前向传播"
#     原实验把 `Network.forward` 留作练习。动手前先想清楚顺序：输入层 → 激活函数 → 每个隐藏层之后各接一次激活函数 → 输出层（输出层之后**不**接激活函数，
#     交叉熵损失自己会做 softmax）。写完后对照 `labcode/models.py` 中的实现，特别注意每个隐藏层的输出都要经过激活函数。
#
# 实验的全部设置（深度、学习率、epoch 数、批大小）来自当前的运行配置（`quick` 或 `full`），会随结果一起打印出来。

# %%
# %matplotlib inline
import warnings

from labcode import lessons, plots
from labcode.data import MnistFallbackWarning
from labcode.experiments import run_depth_sweep, run_gradient_vanishing
from labcode.profiles import config_rows

warnings.simplefilter("ignore", MnistFallbackWarning)  # 用的是哪份数据，实验输出中会写明

res = run_gradient_vanishing()
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
#     - **网络更深。** 原实验只用了 2 个隐藏层（`num_layers=2`），梯度消失的迹象并不明显；
#       这里保留原实验的 2 个隐藏层作为主实验，以便对照，另外专门做了深度扫描。
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
# 下面让 `lessons` 模块用本次构建的实测数字核对本章的结论（每条结论都是对结果的一个检验，并附带实测值）：

# %%
lessons.report(lessons.check_all(gradient=res))

# %% [markdown]
# ## 深度扫描：梯度随深度指数衰减
#
# 推导告诉我们：每增加一个隐藏层，第一层的误差信号就要多乘一个"$D_k W_{k+1}^\top$"因子，而最后一层的梯度不受影响。
# 如果这个因子大致不变，**第一层与最后一层梯度之比**与深度的关系就是指数函数，在对数纵轴上表现为一条直线，斜率就是每层因子的对数。
# 下面对不同的隐藏层数分别训练网络（为节省时间，每个网络只训练几个 epoch），记录这个比值和最终的测试准确率：

# %%
# 与主实验相同的网络（同深度、同种子、同轮数时）直接复用：reuse=res
sweep = run_depth_sweep(reuse=res)
for note in sweep.notes:
    print(note)
fig = plots.plot_depth_sweep(sweep)
fig

# %%
lessons.report(lessons.check_all(depth_sweep=sweep))

# %% [markdown]
# 左图中 Sigmoid 的折线随深度近似一条直线下降，这正是指数衰减；ReLU 与 Tanh 的比值则平缓得多。
# 从 Sigmoid 折线的斜率可以读出每加一层梯度缩小的倍数（纵轴跨过的数量级数 ÷ 横轴增加的层数），请把它与前面"每层约 0.14 倍"的粗略估计比较。
#
# 右图则提醒我们：梯度消失并不是 Sigmoid 独有的问题，只是 Sigmoid 最严重。在这样短的训练预算和 PyTorch 默认初始化下，
# 网络加深后 ReLU 与 Tanh 网络的准确率也可能明显下降。回忆前面的估计：默认初始化下 ReLU 的每层因子约为 $0.41$，
# 不仅误差信号逐层缩小，前向信号也逐层缩小，深层网络的输出几乎与输入无关，训练初期便难以起步。
# 这正是 He 初始化、归一化层和残差连接要解决的问题。
#
# !!! tip "怎样缓解梯度消失"
#     - **换激活函数**：ReLU 及其变体在正半轴导数为 1，不会因为导数而系统性地缩小梯度。
#     - **合适的初始化**：Xavier/Glorot 初始化（$\operatorname{Var}(W_{ij}) = \tfrac{2}{n_\text{in} + n_\text{out}}$）配合 Tanh，
#       He/Kaiming 初始化（$\operatorname{Var}(W_{ij}) = \tfrac{2}{n_\text{in}}$）配合 ReLU，使每层因子约为 1。
#     - **归一化层**：BatchNorm、LayerNorm 把每层的预激活值拉回均值 0、方差 1，防止其漂入饱和区。
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
#         Sigmoid 的导数最大只有 $\tfrac14$，在常见初始化下每层把梯度缩小到原来的一小部分，
#         而它的输出始终在 0.5 附近、前向信号不衰减，于是梯度的衰减完整地体现在权重梯度上：
#         越靠近输入的层梯度越小，本实验中第一层比最后一层小了几个数量级（见上面的实测输出）。
#         用相同的学习率，浅层参数几乎不动，网络相当于在**随机特征**上只训练最后几层，准确率自然上升缓慢。
#         此外，Sigmoid 的输出恒为正，同一神经元所有输入权重的梯度符号相同，只能整体同增同减，更新路线呈"之"字形，进一步拖慢训练。
#
#         Tanh 的导数上界为 1 且以零为中心，衰减慢得多；ReLU 在激活区域导数恒为 1，梯度可以不打折扣地穿过，
#         计算只需一次比较，还产生稀疏激活，因此成为隐藏层的默认选择。
#         （在本章这样浅的网络、短的训练中，Tanh 有时反而比 ReLU 学得更快，这并不矛盾：
#         ReLU 的优势主要体现在更深的网络里，并且要配合 He 初始化才能充分发挥。）
#         但 ReLU 在负半轴导数为 0，可能导致神经元"死亡"（下一章），并且它本身并不能阻止梯度因权重过小而衰减，
#         仍需配合 He 初始化、归一化层、残差连接等手段。
