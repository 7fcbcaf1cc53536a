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
# # ReLU 死亡
#
# !!! abstract "本章要点"
#     ReLU 在负半轴的导数恒为 0。如果一个神经元对**所有**训练样本的预激活值都不大于 0，
#     它的输出恒为 0，它的输入权重和偏置也永远收不到梯度——这个神经元就"死"了。本章将：
#
#     1. 给出"死亡神经元"的精确定义，并推导为什么死亡的神经元无法自行恢复；
#     2. 说明为什么"输出为 0 的比例很高"**不是**死亡，指出原实验测量中的几处错误；
#     3. 按正确的定义，逐层、逐 epoch 统计 ReLU、LeakyReLU、Tanh 网络中的死亡神经元；
#     4. 构造一个 ReLU 确实会大量死亡的设置（对 Adam 而言过大的学习率），并测量 LeakyReLU 与 Tanh 在同样设置下的表现；
#     5. 总结预防 ReLU 死亡的常用方法。

# %% [markdown]
# ## 什么是"死亡"的神经元
#
# 看第 $l$ 层的第 $j$ 个神经元。对输入样本 $\mathbf{x}$，它的预激活值和输出分别是
#
# $$
# \begin{gathered}
# z_j(\mathbf{x}) = \mathbf{w}_j^\top \mathbf{h}_{l-1}(\mathbf{x}) + b_j,
# \\[1.5ex]
# h_j(\mathbf{x}) = \operatorname{ReLU}\bigl(z_j(\mathbf{x})\bigr).
# \end{gathered}
# $$
#
# 由上一章的反向传播公式，这个神经元的参数梯度是
#
# $$
# \begin{gathered}
# \frac{\partial \ell}{\partial \mathbf{w}_j} = \delta_j\,\mathbf{h}_{l-1},
# \\[1.5ex]
# \frac{\partial \ell}{\partial b_j} = \delta_j,
# \\[1.5ex]
# \delta_j = \operatorname{ReLU}'(z_j)\cdot\bigl(W_{l+1}^\top \boldsymbol{\delta}_{l+1}\bigr)_j .
# \end{gathered}
# $$
#
# 关键在于因子 $\operatorname{ReLU}'(z_j)$：当 $z_j \le 0$ 时它等于 0，该样本对这个神经元的参数**没有任何梯度贡献**。
#
# !!! info "定义：死亡神经元"
#     在一个数据集 $\mathcal{D}$（本站取整个训练集）上，如果某个神经元的激活函数导数对**每一个**样本都为 0，
#
#     $$
#     \sigma'\bigl(z_j(\mathbf{x})\bigr) = 0 \quad \text{对所有 } \mathbf{x} \in \mathcal{D},
#     $$
#
#     就称它在 $\mathcal{D}$ 上**死亡**。对 ReLU，这等价于 $z_j(\mathbf{x}) \le 0$ 对所有样本成立，此时它对所有样本都输出 0。
#
# 一个批次的梯度是该批各样本梯度的平均。对死亡的神经元，每个样本的贡献都是 0，平均值也就是 0，
# 于是梯度下降的更新 $\mathbf{w}_j \leftarrow \mathbf{w}_j - \eta \cdot \mathbf{0}$ 让参数原地不动。
# 参数不动，预激活值就继续小于 0，梯度就继续为 0——这是一个**自我维持**的状态：
#
# - 对**第一层**，输入 $\mathbf{h}_0 = \mathbf{x}$ 是固定的数据，死亡的神经元再也收不到新的梯度，它的预激活值也就不会再变
#   （带动量的优化器还可能按惯性把参数再推几步，但没有新的梯度把它拉回来）；
# - 对更深的层，前面的层还在训练，$\mathbf{h}_{l-1}$ 会变化，一个对当前所有样本都沉默的神经元，
#   可能因为前面各层的变化重新落到正半轴，"复活"过来。
#
# 所以死亡是一个**很难自行恢复**、但并非绝对不可逆的状态。下面的实验二逐个神经元跟踪了这件事：
# 每个 epoch 结束时，记下哪些神经元是"上一次统计时死亡、这一次又活过来的"，复活是否发生、发生在哪一层，都由实测数字回答。
#
# 死亡的神经元对所有输入都输出常数 0，对网络的输出毫无贡献，相当于白白浪费了一部分模型容量。
#
# ### 为什么"很多输出为 0"不是死亡
#
# 一个健康的 ReLU 神经元，对一部分样本 $z_j > 0$（输出为正，梯度正常回传），对另一部分样本 $z_j \le 0$（输出为 0，该样本不回传梯度）。
# 初始化时权重关于 0 对称，预激活值有正有负，所以**所有输出中有很大一部分是 0**
# （对称的理想情况下是一半；本章实验一在训练前、训练后实测的比例见下面的结论检查）。
# 这是 ReLU 的**稀疏激活**，是它的特点而不是缺陷：每个样本只激活一部分神经元，但每个神经元都会被一部分样本激活，从而都在学习。
#
# 所以，"输出为 0 的比例"衡量的是稀疏程度；"死亡"说的是某个神经元对**整个数据集**都沉默。两者的区别在于统计的单位：
# 前者统计的是（样本，神经元）对，后者统计的是神经元。
#
# !!! note "与原实验的不同"
#     原实验的 ReLU 死亡实验有几处问题，使它测不到它想测的东西：
#
#     1. **统计的是输出为 0 的比例，而不是死亡神经元。** 它把所有样本、所有神经元中 `activated == 0` 的个数加起来除以总数，
#        对 ReLU 得到的是一个很大的比例（本章实测见下文）——这只是上面说的稀疏激活。
#     2. **拿 `tanh == 0` 作对照。** Tanh 的输出只有在预激活值恰好等于 0 时才为 0，这几乎不会发生，
#        所以 Tanh 的"死亡率"总是 0，这个对比没有意义。
#     3. **把比例当百分数打印。** `f"{death_rate:.2f}%"` 中 `death_rate` 是 0 到 1 之间的比例，0.5 会被打印成 `0.50%`，读者会误以为只有 0.5%。
#     4. **训练的网络不是描述的网络。** 它手动展开前向传播时，把激活后的值只用来计数，传给下一层的却是**未经激活**的 `x`，
#        所以实际训练的网络只在输入层之后有一次激活，各隐藏层之后都没有激活函数——统计的是一个网络，训练的是另一个网络。
#     5. **注释说比较 ReLU 与 LeakyReLU，代码却跑的是 ReLU 与 Tanh。**
#     6. 学习率只有 0.001，这样温和的设置下 ReLU 本来就很少死亡，即使测量正确也看不到现象。
#
#     本站按上面的定义测量：每个 epoch 结束时固定参数，把整个训练集过一遍，逐层统计"对所有训练样本导数都为 0"的神经元所占的比例，
#     结果以比例（0 到 1）或明确标注的百分数给出；网络的前向传播与训练使用的完全相同；
#     并对比 ReLU、LeakyReLU、Tanh 三种激活函数，分别在温和与"危险"两种设置下训练。

# %% [markdown]
# ## 什么情况下 ReLU 会死亡
#
# 死亡的本质是某个神经元的超平面 $\mathbf{w}_j^\top\mathbf{h} + b_j = 0$ 被推到了所有数据点的"另一侧"。常见的诱因有两个：
#
# - **步子太大。** 某一步更新过大时，可能让 $b_j$ 大幅变负，或让 $\mathbf{w}_j$ 转到一个对所有样本都给出负值的方向。
#   更新之后，这个神经元对所有样本都输出 0，再也收不到把它"拉回来"的梯度。
# - **偏置初始化为较大的负数。** 所有预激活值一开始就整体左移，很多神经元从第一步起就处于死亡状态。
#
# 本章用第一种方式制造死亡：使用 Adam 优化器，并把学习率设为它常用默认值 $10^{-3}$ 的 10 倍。为什么这很危险？
# Adam 用梯度的一阶矩除以二阶矩的平方根来更新参数。第一步经过偏差修正后恰好是 $\hat m/\sqrt{\hat v} = g/|g|$，
# 每个参数的移动量**正好等于学习率**（只取决于梯度的符号，与梯度的大小无关）；之后每一步的移动量**至多约为学习率**
# （梯度方向来回变化时会小得多）。所以在训练刚开始、梯度方向还一致时，每个参数每一步都接近走满一个学习率。
# 输入层的一个神经元有 784 个权重，如果它们同时朝"降低预激活值"的方向各移动 $0.01$，预激活值的变化可达
#
# $$
# \Delta z_j \approx 0.01 \sum_{i=1}^{784} |x_i| ,
# $$
#
# 归一化后的 MNIST 图像中 $\sum_i |x_i|$ 约有数百，于是 $\Delta z_j$ 可达好几个单位；而在 PyTorch 默认初始化下，
# 预激活值的典型大小只有 $\sqrt{\|\mathbf{x}\|^2 / (3 \cdot 784)} \approx 0.6$ 左右。
# 几步这样的更新就足以把一个神经元整体推到负半轴。
#
# LeakyReLU 在负半轴的导数是 $\alpha > 0$（本站取 $\alpha = 0.01$），按定义它的导数**永远不为 0**，不会"死亡"；
# 但这不等于它不会出问题：一个对所有样本都落在负半轴的 LeakyReLU 神经元，每个样本传回的梯度都只有正半轴时的 $\alpha$ 倍（1%），
# 它能不能回到正半轴、要多久，要靠测量回答。
# Tanh 的导数 $1 - \tanh^2(z)$ 在数学上也处处为正，但预激活值较大时会**饱和**，导数极小——那是上一章的梯度消失问题。
# 按"死亡"的定义去数 LeakyReLU 和 Tanh，结果几乎必然是 0，什么也说明不了；
# 下面的实验二改为测量它们各自可能出的问题：**对每个训练样本都落在负半轴**的 LeakyReLU 神经元，和**对每个训练样本导数都小于 $10^{-3}$**
# （饱和）的 Tanh 神经元。
#
# ## 练习：按定义统计死亡神经元
#
# !!! example "练习 3.1：`dead_fraction(model, loader)`"
#     对网络中每个带 ReLU 的层，统计有多少比例的神经元在 `loader` 的**所有**样本上预激活值都 $\le 0$（导数都为 0），
#     按层的顺序返回比例（0 到 1 的浮点数）组成的列表。提示：
#
#     - `model(x, return_preactivations=True)` 返回 `(logits, 各层预激活值的列表)`，每个预激活值形状为 `(批大小, 神经元数)`；
#     - 一个神经元只要对**任何一个**样本活跃，它就没有死：对每个批次求"本批次中是否活跃"，再跨批次取"或"；
#     - 统计时不需要梯度（`torch.no_grad()`）。
#
#     `check_dead_units` 用一个手工设置了死亡神经元的网络核对你的结果，并能认出几种常见的错误：
#     统计的是输出为 0 的比例（原实验的做法）、只看了最后一个批次、把比例写成了百分数。
#
#     这个练习是独立的：本章的实验用 `labcode.metrics.count_dead_units`（同一定义）计数，不调用你写的 `dead_fraction`；
#     章末的练习 D 请你用它核对同一个网络。

# %%
import torch

from labcode.selfcheck import check_dead_units


def dead_fraction(model, loader):
    # BEGIN SOLUTION 练习 3.1：请实现 dead_fraction（检查：check_dead_units）
    alive = None
    with torch.no_grad():
        for x, _ in loader:
            _, preacts = model(x, return_preactivations=True)
            active = [(z > 0).any(dim=0) for z in preacts]
            alive = active if alive is None else [a | b for a, b in zip(alive, active, strict=True)]
    return [1 - a.float().mean().item() for a in alive]
    # END SOLUTION


check_dead_units(dead_fraction)

# %% [markdown]
# ## 实验一：原实验的设置
#
# 我们使用与[梯度消失](gradient_vanishing.py)一章相同结构的多层感知机（2 个隐藏层，共 3 个带激活函数的层），在 MNIST 上分别用
# ReLU、LeakyReLU、Tanh 训练。每个 epoch 结束后固定参数，用评估模式把**整个训练集**过一遍，
# 统计每层有多少神经元对所有样本的导数都为 0。同时也按原实验的方法统计"输出为 0 的比例"，作为对照。
#
# 先用原实验的优化器设置（不带动量的 SGD、较小的学习率）：

# %%
# %matplotlib inline
import warnings

from labcode import lessons, plots
from labcode.data import MnistFallbackWarning
from labcode.experiments import run_dead_relu

warnings.simplefilter("ignore", MnistFallbackWarning)  # 用的是哪份数据，实验输出中会写明

mild = run_dead_relu(setting="original")
print(mild.data_description, "| 设备：", mild.device, "| 规模：", mild.profile)
for note in mild.notes:
    print(note)

# %%
fig = plots.plot_dead_units(mild)
fig

# %% [markdown]
# 上面三幅图是每种激活函数各层死亡神经元的比例（第 0 个 epoch 表示训练前），最下面一幅是原实验的指标——输出为 0 的比例。
# 对比 ReLU 的两种统计：输出为 0 的比例很高（正如前面分析的那样，实测值见下面的结论检查），但真正死亡的神经元寥寥无几。
# LeakyReLU 和 Tanh 的输出几乎不会恰好为 0，按原实验的指标它们的"死亡率"永远是 0，这个对照并不能说明什么。

# 上图是一个种子的示例。下面在 5 个种子上重复本章结论需要的运行（本实验的 ReLU 网络，和实验二的三种网络，设置相同；
# 种子 0 上已经训练过的网络直接复用），再用它们核对结论：

# %%
from labcode.experiments import run_dead_relu_seeds

seeds = run_dead_relu_seeds(reuse=mild)
for note in seeds.notes:
    print(note)
lessons.report([lessons.naive_zero_fraction_is_not_death(seeds)])

# %% [markdown]
# ## 还没训练，深层网络里就有死亡神经元
#
# 死亡不一定是训练造成的。回忆[梯度消失](gradient_vanishing.py)一章的表：默认初始化下，ReLU 网络中随输入变化的前向信号每层约缩小到 0.3–0.4 倍。
# 把预激活值拆成两部分：
#
# $$
# z_j(\mathbf{x}) = \underbrace{b_j + \mathbf{w}_j^\top\,\mathbb{E}[\mathbf{h}]}_{\text{与输入无关}}
#   + \underbrace{\mathbf{w}_j^\top\bigl(\mathbf{h}(\mathbf{x}) - \mathbb{E}[\mathbf{h}]\bigr)}_{\text{随输入变化}} .
# $$
#
# ReLU 的输出非负，所以 $\mathbb{E}[\mathbf{h}] > 0$：与输入无关的部分不只是偏置，还有 $\mathbf{w}_j^\top\mathbb{E}[\mathbf{h}]$，
# 它对每个神经元是一个随机的偏移。到了很深的层，随输入变化的部分已经很小，偏移为负、且比这点变化更大的神经元对**所有**样本都输出 0——
# 还没开始训练就已经死了。He 初始化让随输入变化的部分不再逐层缩小（偏置取 0），这种"先天死亡"就少得多；
# 但偏移 $\mathbf{w}_j^\top\mathbb{E}[\mathbf{h}]$ 仍在，所以 He 初始化的网络最深几层也还有少量死亡神经元（见下面的结论检查）。
# 下面在 5 个种子上各建两个 8 个隐藏层的 ReLU 网络（默认初始化与 He 初始化），不训练，直接在整个训练集上按定义统计：

# %%
from labcode.experiments import run_dead_at_init

newborn = run_dead_at_init(depth=8)
lessons.report(lessons.check_all(newborn))

# %% [markdown]
# ## 实验二：让 ReLU 死亡
#
# 换成前面分析过的危险设置：Adam，学习率为默认值的 10 倍。网络结构、初始权重和数据都不变。
# 下面的图是种子 0 的示例（这些网络在前面跨种子的运行里已经训练过，直接复用）。

# %%
dying = run_dead_relu(setting="dying", reuse=seeds)
for note in dying.notes[:1]:
    print(note)
fig = plots.plot_dead_units(dying)
fig

# %% [markdown]
# 下面的图可以交互：用下拉框在两种优化器设置（实验一与实验二）和三种激活函数之间切换，看各层死亡神经元的比例怎样随 epoch 变化；静态图见上。

# %%
from labcode import interactive

interactive.dead_units_explorer(mild, dying)

# %% [markdown]
# 这一次 ReLU 网络中出现了大量死亡神经元（下面的结论检查给出 5 个种子上的比例）。
# 对照 ReLU 的子图想一想：死亡主要发生在训练的什么阶段？死亡比例的曲线不一定只升不降：
# 一部分死亡的神经元会"复活"。下面的结论检查给出了复活的个数：对照前面的分析，看看复活发生在哪些层，
# 第一层（输入固定）是否也有复活。
#
# LeakyReLU 和 Tanh 按定义没有死亡神经元，所以结论检查改为测量它们各自的问题：
# 对每个训练样本都落在负半轴的 LeakyReLU 神经元（它们没有死，但每个样本传回的梯度都乘了 0.01），
# 以及对每个训练样本都饱和（$\tanh' < 10^{-3}$）的 Tanh 神经元。

# %%
lessons.report(
    [
        lessons.relu_dies_in_dying_setting(seeds),
        lessons.dead_units_partly_revive(seeds),
        lessons.leaky_relu_units_stuck_negative(seeds),
        lessons.tanh_units_saturate(seeds),
        lessons.gelu_units_stuck_like_dead(seeds),
    ]
)

# %% [markdown]
# 最后一条检查来自跨种子运行里额外训练的 GELU 网络（同样的危险设置）。GELU 在负半轴的导数并不为 0，但 $z$ 很负时
# 它按 $e^{-z^2/2}$ 的速度趋于 0：被推到很负的地方的 GELU 神经元，和死亡的 ReLU 神经元一样几乎收不到梯度。
# "负半轴导数不为 0"只是不会**恰好**为 0，不能代替合适的学习率。

# %% [markdown]
# 死了这么多神经元，网络的准确率如何？

# %%
fig = plots.plot_accuracy_curves(dying)
fig

# %% [markdown]
# !!! warning "死亡神经元会悄悄浪费容量"
#     死亡不会让训练报错，准确率也未必明显变差（对照上图）——网络会用剩下的神经元凑合着学。
#     但如果一层中大部分神经元都死了，这一层的有效宽度就大打折扣。
#     因此在调大学习率、换用新的初始化方式时，值得像本实验这样顺手统计一下每层的死亡比例。
#
# !!! tip "如何预防 ReLU 死亡"
#     - **控制学习率**：使用较小的学习率，或使用学习率预热（warmup），避免训练初期梯度大时走出过大的一步；
#       配合梯度裁剪可以进一步限制单步更新的幅度。
#     - **合适的初始化**：权重使用 He 初始化；偏置初始化为 0 或一个小的正数（如 0.01），不要让预激活值整体偏负。
#     - **换用变体**：LeakyReLU、PReLU、ELU、GELU、SiLU 在负半轴都有非零导数，神经元不会**恰好**失去全部梯度；
#       但实验二测到，LeakyReLU 的梯度在负半轴被乘上 0.01，GELU 被推得很负时导数小于 $10^{-3}$，它们都不能代替合适的学习率。
#     - **归一化**：BatchNorm 先把每个神经元的预激活值在一个批次内归一化（均值 0、方差 1），再乘以可学习的缩放 $\gamma$、
#       加上可学习的平移 $\beta$；归一化让预激活值不会整体漂到负半轴。
#     - **小心自适应优化器的学习率**：Adam 的单步更新幅度至多约为学习率（第一步恰好等于它），与梯度大小几乎无关。
#       它不会因为一次偶然的大梯度而迈出特别大的一步，但学习率本身设得过大时，训练初期梯度方向一致的参数每一步都接近走满一大步——
#       实验二正是这样让 ReLU 大量死亡的。

# %% [markdown]
# ## 思考题
#
# ??? question "思考题 3：ReLU 死亡现象的成因是什么？有哪些解决方案？"
#
#     ??? tip "提示"
#         - 写出一个神经元的权重梯度 $\delta_j\mathbf{h}_{l-1}$，什么条件下它对一个批次中的每个样本都为 0？什么条件下对整个训练集都为 0？
#         - 神经元一旦进入这种状态，梯度下降能把它带出来吗？第一层和更深的层有什么区别？
#         - 学习率过大时，一次更新可能让偏置或权重发生什么变化？偏置初始化为负数又意味着什么？
#         - LeakyReLU 的导数在负半轴是多少？把它代入梯度公式，结论有什么变化？
#
#     ??? success "参考思路"
#         **成因**：ReLU 在 $z \le 0$ 时导数为 0。若某个神经元对所有训练样本都有 $z_j \le 0$，
#         则每个样本对其参数的梯度都是 0，参数不再更新，它也就永远停留在"对所有样本输出 0"的状态；
#         对第一层而言输入是固定的数据，这种状态是永久的。
#         把神经元推入这种状态的，通常是**过大的学习率**（一次过大的更新把偏置推到很负，或把权重转向对所有样本都为负的方向）
#         和**不当的初始化**（偏置为负、权重尺度不合适），上面的实验在危险设置下复现了这一点。
#         注意区分：对一部分样本输出 0 是正常的稀疏激活，只有对全部样本都为 0 才是死亡。
#
#         **解决方案**：降低学习率、使用预热和梯度裁剪；He 初始化，偏置初始化为 0 或小正数；
#         使用 LeakyReLU、PReLU、ELU、GELU 等在负半轴有非零导数的变体（它们的导数处处不为 0，按定义就不会死亡；
#         但实验二显示，LeakyReLU 网络里仍有不少神经元对所有样本都落在负半轴，只收到缩小了的梯度）；
#         使用 BatchNorm 让预激活值保持在 0 附近；使用 Adam 等自适应优化器时不要把学习率设得过大（实验二就是反例）；
#         训练时监控每层的死亡比例，发现异常及时调整。

# %% [markdown]
# ## 练习与思考
#
# 下面的题目各有折叠的提示和参考答案：先自己想（需要时动手跑一跑），再展开对照。
#
# !!! question "练习 A：负偏置的初始化"
#     如果把第一层所有偏置都初始化为 $-3$，而预激活值中与输入有关的部分 $\mathbf{w}_j^\top\mathbf{x}$ 在样本间大致服从 $\mathcal{N}(0, 0.6^2)$，
#     一个神经元对某个样本活跃的概率是多少？对 4000 个样本都不活跃的概率呢？
#
#     ??? tip "提示"
#         $P(\mathcal{N}(-3, 0.6^2) > 0) = 1 - \Phi(3/0.6)$；各样本近似独立时，全都不活跃的概率是单个概率的 4000 次方。
#
#     ??? success "参考答案"
#         $P(z_j > 0) = P(\mathcal{N}(0, 0.6^2) > 3) =$ $1 - \Phi(5) \approx 2.9\times10^{-7}$。对 4000 个样本都不活跃的概率约为
#         $(1 - 2.9\times10^{-7})^{4000} \approx 0.999$：几乎所有神经元从一开始就是死的。这就是偏置要初始化为 0 或小正数的原因。
#
# !!! question "练习 B：输出为 0 的比例能说明什么"
#     一层有 100 个 ReLU 神经元，"输出为 0 的比例"恰好是 50%。构造两种极端情况：一种没有任何死亡神经元，另一种有 50 个死亡神经元。
#
#     ??? tip "提示"
#         比例是对（样本，神经元）对求平均，死亡是对每个神经元、跨全部样本的判断。
#
#     ??? success "参考答案"
#         （1）每个神经元都恰好对一半样本活跃：输出为 0 的比例是 50%，死亡神经元为 0。
#         （2）50 个神经元对所有样本都不活跃（死亡），另外 50 个对所有样本都活跃：比例同样是 50%，但一半神经元死了。
#         所以这个比例无法区分稀疏激活与死亡，必须按神经元、跨整个数据集统计。
#
# !!! question "练习 C：BatchNorm 与死亡"
#     在 ReLU 之前加 BatchNorm（训练模式，刚初始化时 $\gamma = 1$、$\beta = 0$），一个批次里某个神经元的预激活值有什么性质？它还可能在这个批次上"死亡"吗？训练后呢？
#
#     ??? tip "提示"
#         一组不全相同、均值为 0 的数，能不能全部 $\le 0$？
#
#     ??? success "参考答案"
#         归一化后这个神经元在批次内的预激活值均值为 0、方差为 1，必然有正有负（除非所有样本的值都相同），所以在这个批次上不可能全部 $\le 0$。
#         训练后 $\beta$ 可以学成很大的负数、$\gamma$ 可以变小，神经元仍有可能在训练中被推向死亡，只是远比没有归一化时困难。
#
# !!! question "练习 D：学习率与死亡比例"
#     用 `run_dead_relu` 和 `labcode.profiles.get_config("dead_relu")`（用 `dataclasses.replace` 修改学习率），把实验二的 Adam 学习率换成 $10^{-3}$ 和 $3\times10^{-3}$，
#     死亡比例如何变化？用你写的 `dead_fraction` 和 `labcode.metrics.count_dead_units` 核对同一个网络，结果应当相同。
#
#     ??? tip "提示"
#         Adam 的单步移动量至多约为学习率（第一步恰好等于它）。设置是不可变的数据类：`replace(config, dying_setting=OptimizerSetting("adam", 1e-3, "说明"))`（`from dataclasses import replace`，`from labcode.profiles import OptimizerSetting`），再 `run_dead_relu(setting="dying", config=...)`。
#
#     ??? success "参考答案"
#         学习率越大，训练初期每一步走得越远，死亡比例一般越高；在 $10^{-3}$ 时通常只有很少的神经元死亡。
#         具体数字因数据、种子而异——这是一道需要自己运行的题，判断标准是你能说清楚曲线为什么是这个形状。
