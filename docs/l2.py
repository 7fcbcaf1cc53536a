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
# # L2 正则化
#
# !!! abstract "本章要点"
#     模型的参数比数据多时，它可以把训练集（连同其中的噪声）记得一字不差，却在新数据上表现糟糕，这就是**过拟合**。
#     正则化是缓解过拟合的重要手段。本章讨论最常用的一种——**L2 正则化**（又称**权重衰减**）：
#
#     1. 写出带 L2 惩罚项的损失函数，推导它的梯度，并由此得到"权重衰减"的更新公式；
#     2. 构造一个 200 维、只有 20 个训练样本的线性回归问题，解释它为什么必然过拟合；
#     3. 分别用"手写惩罚项"和优化器的 `weight_decay` 参数实现 L2 正则化，对比 $\lambda = 0$ 与 $\lambda = 3$ 的损失曲线；
#     4. 用权重的范数和分布直方图（而不是打印 200 个数字）观察正则化对参数的影响；
#     5. 扫描 $\lambda$，观察训练误差、测试误差和权重大小如何此消彼长；
#     6. 在 5 份数据上配对比较，并和三个基准对照：什么都不学（输出 0）、从 0 开始的梯度下降（最小范数解）、岭回归的闭式解——
#        由此认识梯度下降自带的**隐式正则化**，以及在验证集（而不是测试集）上选 $\lambda$；
#     7. 对比 L1 与 L2 正则化得到的权重的稀疏性。
#
# 下一章的 [Dropout](dropout.py) 是另一种正则化方法，它不惩罚权重的大小，而是在训练时随机丢弃神经元。

# %% [markdown]
# ## 基本概念
#
# 过拟合的模型往往有一个共同特征：为了穿过每一个训练点，某些权重变得很大，函数因此剧烈起伏。
# L2 正则化的想法很直接：**在损失中加入一项对权重大小的惩罚**，让优化器在"拟合数据"与"保持权重较小"之间折中。
#
# ### 数学表达
#
# 设原始损失为 $L(\mathbf{w}, b)$（本章是均方误差）。加入 L2 惩罚项后的总损失为
#
# $$
# \begin{gathered}
# L_\text{total}(\mathbf{w}, b) = L(\mathbf{w}, b) + \frac{\lambda}{2}\,\|\mathbf{w}\|_2^2,
# \\[1.5ex]
# \|\mathbf{w}\|_2^2 = \sum_{i} w_i^2 ,
# \end{gathered}
# $$
#
# 其中 $\lambda \ge 0$ 是**正则化系数**，控制惩罚的强度：$\lambda = 0$ 就是不加正则化，$\lambda$ 越大，权重越被压向 0。
# 系数里的 $\tfrac12$ 只是为了让求导后的形式更简洁。习惯上只惩罚权重 $\mathbf{w}$，不惩罚偏置 $b$
# （Goodfellow 等《深度学习》§7.1）：每个权重把两个变量联系起来，要在各种情况下观察这两个变量才能拟合好；
# 每个偏置只管一个变量，拟合它所需的数据少得多，不加正则化也不会有多大的方差；反过来，衰减偏置可能造成明显的欠拟合。
# （"偏置只是把函数整体平移"只对线性模型和输出层成立；隐藏层的偏置决定 ReLU 折点的位置，会改变函数的形状。）
#
# ### 梯度与权重衰减
#
# 惩罚项对 $\mathbf{w}$ 的梯度是
#
# $$
# \begin{gathered}
# \nabla_{\mathbf{w}}\left(\frac{\lambda}{2}\sum_i w_i^2\right) = \lambda\,\mathbf{w},
# \\[1ex]
# \text{所以}\quad
# \nabla_{\mathbf{w}} L_\text{total} = \nabla_{\mathbf{w}} L + \lambda\,\mathbf{w}.
# \end{gathered}
# $$
#
# 代入学习率为 $\eta$ 的梯度下降：
#
# $$
# \begin{aligned}
# \mathbf{w} &\leftarrow \mathbf{w} - \eta\left(\nabla_{\mathbf{w}} L + \lambda\,\mathbf{w}\right)\\
#            &= \underbrace{(1 - \eta\lambda)}_{\text{衰减因子}}\,\mathbf{w} - \eta\,\nabla_{\mathbf{w}} L .
# \end{aligned}
# $$
#
# 与普通梯度下降相比，唯一的区别是每一步先把权重乘上一个略小于 1 的因子 $1 - \eta\lambda$，再减去数据项的梯度。
# 如果数据项不再提供梯度，权重会按 $(1-\eta\lambda)^t$ 几何衰减到 0。这就是"**权重衰减**"（weight decay）这个名字的由来。
#
# !!! info "另外两种理解方式"
#     - **带约束的优化**：设 $\mathbf{w}_\lambda$ 使 $L + \tfrac{\lambda}{2}\|\mathbf{w}\|^2$ 最小，取 $r = \|\mathbf{w}_\lambda\|$，
#       则 $\mathbf{w}_\lambda$ 也是"在约束 $\|\mathbf{w}\|_2 \le r$ 下最小化 $L$"的解——对**任何**损失都成立
#       （球内任一 $\mathbf{w}$ 都有 $L(\mathbf{w}) \ge L(\mathbf{w}_\lambda) + \tfrac{\lambda}{2}(r^2 - \|\mathbf{w}\|^2) \ge$ $L(\mathbf{w}_\lambda)$）。
#       反过来，每个半径 $r$ 都对应某个 $\lambda$、两种写法完全等价，则需要 $L$ 是**凸**的（如本章的线性回归，由拉格朗日对偶得到）；
#       对神经网络这样的非凸损失，约束问题的某些解可能不是任何 $\lambda$ 的惩罚问题的解。
#       直观上，正则化把可选的模型限制在一个以原点为中心的球里。
#     - **贝叶斯观点**：若给权重一个高斯先验 $\mathbf{w} \sim \mathcal{N}(\mathbf{0}, \tau^2 I)$，
#       最大后验估计（MAP）要最小化的负对数后验，恰好是"负对数似然 $+ \tfrac{1}{2\tau^2}\|\mathbf{w}\|^2$"。
#       L2 正则化相当于事先相信"权重应该较小"。
#
# ### 它为什么能缓解过拟合
#
# - **惩罚大权重。** 线性模型 $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x}$ 满足 $|f(\mathbf{x}) - f(\mathbf{x}')| \le \|\mathbf{w}\|\,\|\mathbf{x} - \mathbf{x}'\|$：
#   权重越小，函数越平滑，输入的微小扰动（包括噪声）对输出的影响越小。过分依赖个别特征、剧烈起伏的解被惩罚。
# - **把权重分散开。** 因为惩罚的是平方和，一个大权重比几个小权重的代价高（$1^2 > 0.5^2 + 0.5^2$），
#   L2 倾向于把"功劳"均匀地分给相关的特征，而不是押在个别特征上。
# - **去掉与数据无关的分量。** 下面的实验会看到，在参数多于样本时，这一点尤其关键。

# %% [markdown]
# ## 一个注定过拟合的数据集
#
# 设特征维数 $d = 200$，每个特征独立地服从标准正态分布 $x_i \sim \mathcal{N}(0, 1)$，标签由下面的**线性函数**加噪声生成：
#
# $$
# \begin{gathered}
# y = 0.05 + \sum_{i=1}^{d} 0.01\,x_i + \epsilon,
# \\[1ex]
# \epsilon \sim \mathcal{N}(0, 0.01^2).
# \end{gathered}
# $$
#
# 即真实权重 $\mathbf{w}^* = 0.01 \cdot \mathbf{1}$，真实偏置 $b^* = 0.05$。训练集只有 $n = 20$ 个样本，测试集有 100 个。
#
# !!! note "与原实验的不同"
#     原实验称这个函数为"三阶多项式"，这是笔误：$y$ 是 $x_1, \dots, x_d$ 的**一次（线性）**函数，
#     其中没有任何平方项或立方项（原文紧接着也说"标签是关于输入的线性函数"，前后自相矛盾）。
#     这个问题之所以会过拟合，靠的不是函数复杂，而是**维数高、样本少**，见下文。
#
# ### 为什么一定会过拟合
#
# 把 20 个训练样本排成矩阵 $X \in \mathbb{R}^{20 \times 200}$。训练损失 $\frac1n\|X\mathbf{w} - \mathbf{y}\|^2$ 为 0 的条件
# $X\mathbf{w} = \mathbf{y}$ 只有 20 个方程，却有 200 个未知数：满足它的 $\mathbf{w}$ 构成一个 180 维的仿射子空间，
# 其中绝大多数离 $\mathbf{w}^*$ 很远。模型完全可以把训练集（包括噪声）拟合得分毫不差，却学不到真实的规律。
#
# 更具体地，数据项的梯度
#
# $$
# \nabla_{\mathbf{w}} \frac1n\|X\mathbf{w} - \mathbf{y}\|^2 = \frac2n\,X^\top(X\mathbf{w} - \mathbf{y})
# $$
#
# 总是落在 $X$ 的**行空间**里（一个 20 维子空间）。把 $\mathbf{w}$ 分解为行空间分量和与之正交的**零空间**分量
# $\mathbf{w} = \mathbf{w}_\parallel + \mathbf{w}_\perp$，则不加正则化的梯度下降**永远不会改变** $\mathbf{w}_\perp$：
# 初始化时随机落在零空间里的那部分权重（占 200 维中的 180 维）会原封不动地保留到训练结束。
# 而对服从标准正态分布的测试样本，$\mathbb{E}\bigl[(\mathbf{x}^\top(\mathbf{w} - \mathbf{w}^*))^2\bigr] = \|\mathbf{w} - \mathbf{w}^*\|^2$，
# 这些残留的随机分量直接变成测试误差。
#
# 加入权重衰减后，由更新公式 $\mathbf{w} \leftarrow (1-\eta\lambda)\mathbf{w} - \eta\nabla L$，零空间分量每一步都乘以 $1 - \eta\lambda$，
# 按几何级数衰减；行空间分量则在"拟合数据"和"衰减"之间取得平衡。这正是 L2 正则化在这个问题上起作用的机制。
#
# !!! info "与岭回归的关系"
#     对线性回归，L2 正则化的解有闭式表达。以 $L = \frac1n\|X\mathbf{w} - \mathbf{y}\|^2$ 为例，令总损失的梯度为零：
#
#     $$
#     \begin{gathered}
#     \frac2n X^\top(X\mathbf{w} - \mathbf{y}) + \lambda\mathbf{w} = \mathbf{0}
#     \\[1ex]
#     \Longrightarrow\quad
#     \mathbf{w} = \left(X^\top X + \tfrac{n\lambda}{2} I\right)^{-1} X^\top\mathbf{y}.
#     \end{gathered}
#     $$
#
#     这就是统计学中的**岭回归**。当 $n < d$ 时 $X^\top X$ 是奇异矩阵，不加正则化的最小二乘没有唯一解；
#     加上 $\tfrac{n\lambda}{2}I$ 后矩阵可逆，解唯一且范数受控。

# %% [markdown]
# ## 实验：从零实现与简洁实现
#
# 与原实验相同，我们训练**不带偏置**的线性模型 $\hat y = \mathbf{w}^\top\mathbf{x}$，用均方误差和小批量随机梯度下降（学习率、批大小、epoch 数见下面打印的设置），比较两种实现：
#
# - **从零实现**：在每个批次的损失上加上 $\lambda \cdot$ `l2_penalty(w)`，其中 `l2_penalty(w)` $= \tfrac12\sum_i w_i^2$，让自动求导算出 $\lambda\mathbf{w}$；
# - **简洁实现**：损失中不加惩罚项，而是把 `weight_decay=λ` 交给 `torch.optim.SGD`，优化器在每一步更新时自己把 $\lambda\mathbf{w}$ 加到梯度上。
#
# 由上面的推导，对 SGD 两者是**同一个更新公式**，使用相同的随机种子时结果应当一致（至多相差浮点舍入误差）。
# 每种实现都训练 $\lambda = 0$ 与 $\lambda = 3$ 两种情况。
#
# !!! note "关于偏置：原实验的注释有误"
#     原实验在建模时注释"不设置偏置，因为我们已经在多项式中实现了它"。其实标签中有常数项 $b^* = 0.05$，不带偏置的模型无法表示它。
#     对与 $\mathbf{w}$ 无关的测试样本 $\mathbf{x} \sim \mathcal{N}(\mathbf{0}, I)$，测试误差可以精确分解为
#
#     $$
#     \begin{aligned}
#     &\mathbb{E}\bigl[(\mathbf{w}^\top\mathbf{x} - y)^2\bigr]\\
#     &\quad= \|\mathbf{w} - \mathbf{w}^*\|^2 + (b^*)^2 + \sigma^2\\
#     &\quad= \|\mathbf{w} - \mathbf{w}^*\|^2 + 0.0025 + 0.0001,
#     \end{aligned}
#     $$
#
#     所以无论怎样训练，测试损失都不会低于约 $0.0026$。这只是给测试损失加了一个下限，不影响本章的结论，
#     因此本站保留了原实验的模型，以便对照；`labcode` 的设置中也可以打开偏置（`bias=True`，偏置不受惩罚）。

#
# !!! example "练习 4.1：`l2_penalty(w)`"
#     返回 $\tfrac12\sum_i w_i^2$（一个标量张量）。那个 $\tfrac12$ 不是装饰：有了它，惩罚项的梯度正好是 $\mathbf{w}$，
#     $\lambda\cdot$`l2_penalty(w)` 的梯度正好是 $\lambda\mathbf{w}$，与 `weight_decay=λ` 完全一致。
#     结果要能反向传播（不要用 `.item()` 或 NumPy），也不要修改 `w`。

# %%
# %matplotlib inline
import torch

from labcode import lessons, plots
from labcode.experiments import run_l1_vs_l2, run_l2, run_lambda_sweep
from labcode.profiles import config_rows
from labcode.selfcheck import check_l2_penalty, check_l2_step


def l2_penalty(w):
    # BEGIN SOLUTION 练习 4.1：请实现 l2_penalty（检查：check_l2_penalty）
    return (w**2).sum() / 2
    # END SOLUTION


check_l2_penalty(l2_penalty)

# %% [markdown]
# !!! example "练习 4.2：从零写一步带惩罚项的 SGD"
#     写 `l2_sgd_step(w, b, X, y, lr, lambd)`：线性回归 $\hat{\mathbf{y}} = X\mathbf{w} + b$，
#     损失为批内平均的平方损失 $\tfrac12(\hat y - y)^2$ 加上 $\lambda\cdot$`l2_penalty(w)`（**只惩罚权重**，不惩罚偏置），
#     反向传播后按 $\theta \leftarrow \theta - \eta\,\nabla_\theta$ **原地**更新 `w` 和 `b`，并清零它们的梯度
#     （`w`、`b` 是 `requires_grad=True` 的叶子张量）。`check_l2_step` 连走三步，与
#     `torch.optim.SGD(..., weight_decay=λ)`（只作用于 `w`）逐步对照：衰减翻倍、偏置也被衰减、梯度忘了清零，都会被指出来。
#
#     这个练习是独立的：下面的实验只用你写的 `l2_penalty`，更新步由 `torch.optim.SGD` 完成，不调用 `l2_sgd_step`。


# %%
def l2_sgd_step(w, b, X, y, lr, lambd):
    # BEGIN SOLUTION 练习 4.2：请实现 l2_sgd_step（检查：check_l2_step）
    loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * l2_penalty(w)
    loss.backward()
    with torch.no_grad():
        for param in (w, b):
            param -= lr * param.grad
            param.grad.zero_()
    # END SOLUTION


check_l2_step(l2_sgd_step)

# %% [markdown]
# 下面的从零实现用的就是**你写的** `l2_penalty`：

# %%
scratch = run_l2(
    method="scratch", penalty=l2_penalty
)  # 从零实现：损失 + λ·l2_penalty(w)，你写的惩罚项
concise = run_l2(method="weight_decay")  # 简洁实现：SGD(weight_decay=λ)
print("设备：", scratch.device, "| 规模：", scratch.profile)
for note in scratch.notes:
    print(note)
print("设置：", "，".join(f"{k}={v}" for k, v in config_rows(scratch.config)))

# %%
fig = plots.plot_l2_losses(scratch)
fig

# %% [markdown]
# 纵轴是对数坐标。对照上图：
#
# - $\lambda = 0$ 时，训练损失一路降到很低，测试损失却停在高处——典型的过拟合，二者之间的差距称为**泛化差距**；
# - $\lambda = 3$ 时，训练损失不再能降得那么低（模型被禁止用大权重去硬凑训练点），测试损失却明显下降；
# - 从零实现与 `weight_decay` 实现的结果应当一致，下面的核对会给出二者最终权重的最大差值。
#
# ### 权重发生了什么变化
#
# 原实验在训练结束后把 200 个权重原样打印出来，很难从中看出什么。更有信息量的是权重的**范数** $\|\mathbf{w}\|_2$ 和**分布**。
# 两个参照值：真实权重的范数是 $\|\mathbf{w}^*\|_2 = 0.01\sqrt{200} \approx 0.14$；
# 而 PyTorch 对 `nn.Linear(200, 1)` 的默认初始化 $w_i \sim U\!\left(-\tfrac{1}{\sqrt{200}}, \tfrac{1}{\sqrt{200}}\right)$ 给出
# $\mathbb{E}\|\mathbf{w}_0\|^2 = 200 \cdot \tfrac{1}{3 \cdot 200} = \tfrac13$，即初始范数约为 $0.58$。
# 按前面零空间的分析，$\lambda = 0$ 时训练几乎不会改变初始化中 180 维零空间的部分，最终范数应当与初始范数相差不大。

# %%
fig = plots.plot_weights(scratch)
fig

# %% [markdown]
# 两幅图都可以用前面的推导来解读：
#
# - **下图**：$\lambda = 0$ 时 $\|\mathbf{w}\|_2$ 几乎一直停在初始值附近——数据项的梯度只能改变 20 维行空间中的分量，
#   其余 180 维保持初始化时的随机值。$\lambda = 3$ 时曲线近似一条指数衰减曲线：每一步权重都先乘以 $1 - \eta\lambda$。
#   按上面打印的设置（$\eta = 0.003$，20 个训练样本、批大小 10，即每个 epoch 2 步），100 个 epoch 后零空间分量只剩
#   $(1 - 0.009)^{200} \approx 0.16$ 倍。
# - **上图**：$\lambda = 0$ 时最终权重的直方图几乎就是初始化的均匀分布 $U(-0.071, 0.071)$ 的样子，与真实值 $w_i^* = 0.01$ 毫无关系；
#   $\lambda = 3$ 时权重收拢到 0 附近的窄区间里。
# - 再回看损失曲线：$\lambda = 3$ 时测试损失在训练结束时仍在下降，因为零空间分量还在继续衰减。训练到收敛会怎样？
#   下面用 5 份数据、并与岭回归的闭式解（即训练到收敛的结果）对照来回答（结论 `fixed_epoch_sweep_measures_decay`）。
#
# 以上都是**一次运行**（种子 0）的示例。下面的核对只有一条：两种实现是同一个更新公式，同一种子下权重逐元素一致——
# 这是一个恒等式的检验，不是效果的比较；效果的比较（$\lambda = 3$ 是否缩小了权重、降低了测试损失）放在后面 5 个种子的配对比较里。

# %%
lessons.report([lessons.weight_decay_matches_scratch(scratch, concise)])

# %% [markdown]
# !!! note "与原实验的不同"
#     原实验用 `print('weight:', ...)` 输出 200 个权重。这里改为报告权重的 L2 范数，并画出权重的直方图，
#     同时把真实权重 $\mathbf{w}^*$ 作为参照，一眼就能看出正则化把权重"收拢"到了哪里。
#
# ## 正则化系数 $\lambda$ 的选择
#
# $\lambda$ 是一个超参数。$\lambda$ 太小，等于没有正则化，模型过拟合；$\lambda$ 太大，权重被压得几乎全为 0，
# 模型连真实的信号也学不到，**欠拟合**（极端情况下 $\mathbf{w} \to \mathbf{0}$，模型只会输出一个常数）。
# 下面在对数刻度上扫描一组 $\lambda$，对每个值训练一次，记录最终的训练损失、测试损失和权重范数：

# %%
sweep = run_lambda_sweep()
fig = plots.plot_lambda_sweep(sweep)
fig

# %% [markdown]
# 下面的图可以交互：拖动滑块选择 $\lambda$，看最终权重的分布（虚线是真实权重）和训练、测试损失曲线怎样随之变化；静态图见上。

# %%
from labcode import interactive

interactive.lambda_explorer(sweep)

# %% [markdown]
# 在这一次运行里（种子 0），随着 $\lambda$ 增大，权重范数变小、训练损失变大——模型被允许"记住"训练集的程度越来越低；
# 这条规律是否在每份数据上都成立，下面在 5 个种子上核对。$\lambda$ 继续增大会怎样？当 $\lambda \to \infty$ 时 $\mathbf{w} \to \mathbf{0}$，
# 由前面的误差分解，测试损失的期望将趋于 $\|\mathbf{w}^*\|^2 + (b^*)^2 + \sigma^2$，即 $0.02 + 0.0025 + 0.0001 \approx 0.023$（推导，不是本页的测量）。
# 请把这个值与图中的测试损失以及 $0.0026$ 的下限比较：只有 20 个样本时，不可能把 200 个权重都估计准确。
#
# 还要注意：每个 $\lambda$ 都只训练了同样多的 epoch。由更新公式，零空间分量经过 $T$ 步后只剩
# $(1-\eta\lambda)^T$ 倍：$\lambda$ 小时它几乎没有衰减，这时扫描量出的其实是"$T$ 步里衰减了多少"（取决于 $\eta\lambda T$），
# 而不是正则化本身的强度。训练到收敛的结果有闭式解（上面的岭回归公式），下面拿它对照。
#
# 最后，这里直接看测试损失只是为了演示；$\lambda$ 应该在一个独立的**验证集**上（或用交叉验证）选择，见下文。
#
# ## 换 5 份数据，和三个基准比
#
# 一次运行说明不了差别是否超出随机波动，也说明不了"好"是和什么比。下面换 5 个种子（每个种子一份新的训练/测试数据和一个新的随机初始化），
# 对每个种子做同一组比较，并加上三个**基准**：
#
# - **常数预测**：$\mathbf{w} = \mathbf{0}$，永远输出 0，即什么都不学；由前面的误差分解，它的期望测试损失约为 $0.0226$；
# - **从 0 开始的梯度下降**：$\lambda = 0$，但初始权重全为 0；
# - **闭式解**：$\lambda = 0$ 时的**最小范数插值解** $\mathbf{w} = X^{+}\mathbf{y}$（$X^{+}$ 是伪逆），以及各 $\lambda$ 的岭回归解——它们是训练到收敛的结果。
#
# 每条核对都在 5 个种子上**配对**比较（同一个种子、只改一个条件），并写明所用的判据："5 个种子中每个都大于 0"，
# 或"平均配对差大于其标准误的 2 倍"。表中是各种子的均值 ± 标准差。

# %%
from labcode.experiments import run_l2_seeds
from labcode.tables import l2_cv_table, l2_seed_table

l2_seeds = run_l2_seeds()
print(l2_seeds.notes[-1])
print(l2_seed_table(l2_seeds))
lessons.report(lessons.check_all(l2_seeds))

# %% [markdown]
# 逐条读上面的核对和表格：
#
# - **不加正则时过拟合得比什么都不学还差**（`unregularized_model_overfits`）：默认初始化、$\lambda = 0$ 的模型几乎把训练集拟合得分毫不差，
#   测试损失却在每个种子上都高于常数预测。
# - **$\lambda = 3$ 缩小了权重、大幅降低了测试损失**（`l2_shrinks_weights`、`l2_reduces_test_loss`），
#   **但看不出比常数预测好**（`l2_at_lambda_3_no_better_than_constant`，它的说明里写着这个差别是可分辨地更差还是分不出高下）。
#   原实验把 $\lambda = 3$ 相对于 $\lambda = 0$ 的改进当作正则化的成功；和"什么都不学"一比，这个改进只是去掉了随机初始化带来的一部分损害。
# - **梯度下降自带的正则化**（`gradient_descent_from_zero_finds_min_norm`）：不加任何惩罚、只是从 0 开始，梯度下降就收敛到了最小范数插值解，
#   测试损失与闭式解一致，远低于默认初始化的 $\lambda = 0$。原因就是前面零空间的论证：梯度始终在 $X$ 的行空间里，从 $\mathbf{0}$ 出发，
#   $\mathbf{w}$ 就永远留在行空间里；而行空间里能插值训练数据的解只有一个，正是范数最小的那个。
#   这叫做梯度下降的**隐式正则化**：优化算法连同初始化，决定了在无数个能拟合训练集的解中找到哪一个。
#   所以本章中 $\lambda$ 带来的改进，来自**抹掉随机初始化留在零空间里的分量**；初始化为 0 也能做到（对照表中"从 0 开始"与各 $\lambda$ 的行）。
# - **信号太弱，没什么可学**（`little_signal_to_learn`）：所有做法中最好的测试损失，也只比常数预测低一小截（说明里列出各种子的比值）。
#   20 个样本、200 个权重、每个真实权重只有 0.01：数据里没有足够的信息把 $\mathbf{w}^*$ 估计出来。
#   噪声的方差只有 $10^{-4}$，远小于表中的测试损失，所以这里 L2 的作用也**不是**"阻止模型拟合噪声"。
# - **固定 epoch 数的扫描量的是衰减**（`fixed_epoch_sweep_measures_decay`）：最小的正 $\lambda$ 用梯度下降训练同样多的 epoch，
#   测试损失是同一 $\lambda$ 训练到收敛（闭式解）的许多倍；最大的 $\lambda$ 则已经收敛。说明中列出了每个种子上都离收敛较远的 $\lambda$：
#   对它们，训练更久测试损失还会下降，直到闭式解的水平（对照表中"梯度下降"与"岭回归（闭式）"两组行）。
# - **扫描的一般规律**（`lambda_sweep_trades_fit_for_size`）：$\lambda$ 越大，权重范数越小、训练损失越大，5 个种子上都是如此；
#   测试损失平均最低的 $\lambda$ 和与它**分不出高下**的 $\lambda$ 列在说明里——差别小于配对标准误的 2 倍时，只能说"分不出"，不能说谁更好。
#
# ## 在验证集上选 $\lambda$
#
# 到目前为止，我们都是看**测试集**来比较 $\lambda$ 的，这只是为了演示。真正选 $\lambda$ 时，测试集必须留到最后、只用一次，
# 否则报告的测试损失会偏乐观。只有 20 个训练样本时，单独分出一个验证集太浪费，常用 **$k$ 折交叉验证**：把训练集分成 $k$ 份（这里 4 份，每份 5 个），
# 每份轮流做验证集、在其余部分上训练，取 $k$ 次验证损失的平均，选平均最小的 $\lambda$，再用它在全部 20 个样本上训练。
# 下表对每个种子给出这样选出的 $\lambda$（用岭回归闭式解，即训练到收敛的结果）及其测试损失，并与"偷看测试集"选出的 $\lambda$ 和常数预测对照：

# %%
print(l2_cv_table(l2_seeds))

# %% [markdown]
# 表中每个种子一行，只作示例，不作结论。看测试集选出的 $\lambda$，测试损失按定义不会比交叉验证选的更高——
# 这正是它"偏乐观"的地方：那个数字已经被选择过程用过了，不再是对新数据的无偏估计。
# 各 $\lambda$ 的闭式解本来就相差无几（表中岭回归各行），验证折又只有 5 个样本，所以可以预期交叉验证选出的 $\lambda$ 在各种子间变化很大，请对照上表。
#
# ## L1 与 L2：谁会产生稀疏的权重
#
# 把惩罚项换成权重绝对值之和，就得到 **L1 正则化**：
#
# $$
# \begin{gathered}
# L_\text{total} = L + \lambda\,\|\mathbf{w}\|_1 = L + \lambda \sum_i |w_i|,
# \\[1.5ex]
# \frac{\partial}{\partial w_i}\bigl(\lambda|w_i|\bigr) = \lambda\operatorname{sign}(w_i)\quad(w_i \ne 0).
# \end{gathered}
# $$
#
# 比较两者对单个权重的"拉力"：
#
# - **L2** 的拉力 $\lambda w_i$ 与权重大小成正比。权重越接近 0，拉力越弱，所以它能把权重压得很小，却几乎不会恰好压到 0。
# - **L1** 的拉力 $\lambda\operatorname{sign}(w_i)$ 大小恒定。对数据项不太需要的权重，这股恒定的拉力会一直把它推到 0 附近（用近端梯度法，即软阈值，则恰好等于 0）。
#
# 几何上看：约束区域 $\|\mathbf{w}\|_1 \le r$ 是一个在坐标轴上有尖角的"菱形"，损失的等高线最先碰到它的往往是尖角，而尖角处大部分坐标为 0；
# L2 的约束区域是圆球，没有尖角。因此 **L1 产生稀疏解，适合做特征选择；L2 产生小而稠密的解**，在特征彼此相关时更稳定。
#
# !!! note "与原实验的不同"
#     原实验说 L2 正则化下"权重呈现正态分布"。这个说法不准确：L2 惩罚对应的是权重的**高斯先验**（见上文的贝叶斯观点），
#     但训练得到的权重服从什么分布，取决于数据、初始化和训练时长，并不一定是正态分布（可以对照前面 $\lambda = 3$ 的直方图）。
#     准确的说法是：L2 让权重整体变小、向 0 收拢，但很少恰好为 0；
#     L1 则会让许多权重恰好为 0。
#
# 下面用相同的数据和相同的初始权重，分别训练不加正则、加 L1、加 L2 的模型，比较权重的大小和"接近 0 的权重"所占的比例。
# L1 用**近端梯度法**实现：每步先对数据损失做一次普通的 SGD 更新，再做一次软阈值
# $w_i \leftarrow \operatorname{sign}(w_i)\max(|w_i| - \eta\lambda, 0)$，把绝对值小于 $\eta\lambda$ 的权重直接置 0。

# %%
l1l2 = run_l1_vs_l2()
for note in l1l2.notes[2:]:
    print(note)
fig = plots.plot_l1_vs_l2(l1l2)
fig

# %% [markdown]
# 上图把每个模型的 200 个权重按绝对值从大到小排列（对数纵轴，恰好为 0 的权重画在下边界），虚线是判定"接近 0"的阈值；
# 下图是低于阈值的权重所占的比例。L1 的曲线在某个位置陡然跌到下边界——那之后的权重都被软阈值精确地置为了 0；
# L2 的权重则整体变小，但几乎没有恰好为 0 的。

# %% [markdown]
# 上图是一次运行（种子 0）的示例。下面在 5 个种子（每个一份新数据、一个新初始化）上各训练一对 L1 / L2 模型，配对核对：

# %%
from labcode.experiments import run_l1_vs_l2_seeds

l1l2_seeds = run_l1_vs_l2_seeds()
lessons.report(lessons.check_all(l1l2_seeds))

# %% [markdown]
# 注意，这个数据集的真实权重 $\mathbf{w}^* = 0.01\cdot\mathbf{1}$ 是**稠密**的：200 个特征都同样有用。
# L1 的"稀疏"假设在这里并不成立，它把许多有用的权重也压到了 0。选择哪种正则化，应当与你对问题的先验认识相符。
#
# !!! tip "实践建议"
#     - $\lambda$ 通常在对数刻度上搜索（如 $10^{-5}, 10^{-4}, \dots, 10^{-1}$），用验证集选择。
#     - 一般只对权重做衰减，偏置以及 BatchNorm/LayerNorm 的缩放和平移参数不做衰减。
#     - 对 SGD，"损失加 L2 惩罚"与"权重衰减"完全等价；对 Adam 这类自适应优化器则**不**等价——
#       惩罚项的梯度也会被自适应地缩放。此时应使用把衰减与梯度更新解耦的 **AdamW**。
#     - 每步的实际衰减量是 $\eta\lambda$，改变学习率时也要重新审视 $\lambda$。
#     - L2 正则化可以与 Dropout、数据增强、提前停止（early stopping）等方法同时使用。

# %% [markdown]
# ## 思考题
#
# ??? question "思考题 4：使用 L2 正则化后，模型的参数会发生什么变化？为什么这种变化有助于防止过拟合？"
#
#     ??? tip "提示"
#         - 对比上面 $\lambda = 0$ 与 $\lambda = 3$ 的权重范数和直方图：分布的中心和宽度如何变化？哪一个更接近真实权重 $\mathbf{w}^*$？
#         - 回顾更新公式 $\mathbf{w} \leftarrow (1-\eta\lambda)\mathbf{w} - \eta\nabla L$：没有数据支持的权重分量会怎样？
#           本例中"零空间分量"的论证说明了什么？
#         - 观察 $\lambda$ 扫描的结果：$\lambda$ 从很小增大到很大时，训练损失和测试损失分别怎样变化？
#         - 从 $|f(\mathbf{x}) - f(\mathbf{x}')| \le \|\mathbf{w}\|\,\|\mathbf{x} - \mathbf{x}'\|$ 出发，想想为什么较小的权重意味着更平滑、对噪声更不敏感的模型。
#
#     ??? success "参考思路"
#         加入 L2 正则化后，每一步更新都先把权重乘上 $1 - \eta\lambda$，权重整体向 0 收缩：范数变小，直方图变窄、向 0 集中。
#         在本例中，200 个参数只有 20 个样本约束，数据只能决定权重在一个 20 维子空间中的分量；
#         其余 180 维的分量不受数据约束，不加正则化时会一直保留初始化的随机值，这些随机分量就是测试误差的主要来源。
#         权重衰减让这些没有数据支持的分量指数衰减，所以训练误差略升、测试误差明显下降。
#         注意这里的改进**不是**因为"阻止了模型拟合噪声"：噪声的方差只有 $10^{-4}$。从 0 开始的梯度下降（隐式正则化）不加惩罚也能得到同样的测试损失，
#         而所有做法都只比"输出 0"好一点点——20 个样本里本来就没有多少可学的信号（见上面 5 个种子的核对）。
#
#         一般地说，权重较小的模型函数变化更平缓（对线性模型，$\|\mathbf{w}\|$ 就是它的 Lipschitz 常数），
#         对输入中的噪声和训练样本的偶然特征不那么敏感，因而泛化更好；从贝叶斯角度看，这是加入了"权重应当较小"的高斯先验。
#         但 $\lambda$ 要折中：太小起不到作用，太大则把有用的信号也压掉，造成欠拟合，所以需要在验证集上调节。

# %% [markdown]
# ## 练习与思考
#
# 下面的题目各有折叠的提示和参考答案：先自己想（需要时动手跑一跑），再展开对照。
#
# !!! question "练习 A：L1 的更新规则"
#     对损失 $L(\mathbf{w}) + \lambda\|\mathbf{w}\|_1$ 用 SGD：$|w|$ 在 0 处不可导，次梯度是什么？"先做梯度步、再做近端步"的写法（近端梯度法）又是什么？
#
#     ??? tip "提示"
#         $\partial|w|/\partial w = \operatorname{sign}(w)$（$w \ne 0$）；近端步求 $\min_w \tfrac{1}{2\eta}(w - \tilde w)^2 + \lambda|w|$。
#
#     ??? success "参考答案"
#         次梯度：$\lambda\operatorname{sign}(w_i)$（$w_i = 0$ 时取 $[-\lambda, \lambda]$ 中任一值），更新 $w_i \leftarrow w_i - \eta(\partial_i L + \lambda\operatorname{sign}(w_i))$，
#         每一步把权重朝 0 推一个**固定**的量 $\eta\lambda$，但会在 0 附近来回跳。近端写法先做 $\tilde w_i = w_i - \eta\,\partial_i L$，再做软阈值
#         $w_i \leftarrow \operatorname{sign}(\tilde w_i)\max(|\tilde w_i| - \eta\lambda, 0)$，小于 $\eta\lambda$ 的权重被精确地置为 0——这就是 L1 产生稀疏解的机制。
#
# !!! question "练习 B：在验证集上选 λ"
#     本章直接画了测试损失。写出一个正确的选 $\lambda$ 流程：数据怎么分？最后报告什么？
#
#     ??? tip "提示"
#         测试集的作用是给出一个没有被任何选择过程"看过"的估计。
#
#     ??? success "参考答案"
#         把训练数据再分出一部分做验证集（或做 $k$ 折交叉验证）；对每个候选 $\lambda$ 只用训练部分训练，在验证集上评估，选验证损失最小的 $\lambda$；
#         然后（可选）用全部训练数据以这个 $\lambda$ 重新训练，最后在从未参与选择的测试集上报告一次结果。用测试集选 $\lambda$ 会让报告的测试损失偏乐观。
#
# !!! question "练习 C：偏置不做衰减"
#     本章的模型带偏置时（`bias=True`），偏置不受惩罚。用 `torch.optim.SGD` 的参数组写出"只对权重衰减"的优化器。为什么通常不衰减偏置？
#
#     ??? tip "提示"
#         `torch.optim` 的优化器可以接收参数组的列表，每组有自己的 `weight_decay`。
#
#     ??? success "参考答案"
#         `torch.optim.SGD([{"params": [w], "weight_decay": lam}, {"params": [b], "weight_decay": 0.0}], lr=lr)`。
#         标准的理由（Goodfellow 等《深度学习》§7.1）：每个偏置只控制一个变量，拟合它所需的数据比权重少得多，不加正则化方差也不大；
#         衰减偏置反而可能造成明显的欠拟合——例如本章的线性模型若带偏置，衰减它会把输出的均值拉向 0，而数据中 $b^* = 0.05$。
#         对线性模型和输出层，偏置只平移输出、不影响函数对输入的敏感程度（Lipschitz 常数）；但隐藏层的偏置决定 ReLU 折点的位置，并不只是平移，
#         所以"偏置不影响函数形状"不是不衰减它的理由。BatchNorm/LayerNorm 的 $\gamma, \beta$ 通常也不衰减。
#
# !!! question "练习 D：输入噪声等价于 L2（Bishop, 1995）"
#     对线性模型 $\hat y = \mathbf{w}^\top\mathbf{x}$，训练时给输入加独立噪声 $\boldsymbol{\epsilon} \sim \mathcal{N}(\mathbf{0}, s^2 I)$。
#     计算 $\mathbb{E}_{\boldsymbol\epsilon}\bigl[(\mathbf{w}^\top(\mathbf{x} + \boldsymbol{\epsilon}) - y)^2\bigr]$，它与 L2 正则化是什么关系？
#
#     ??? tip "提示"
#         把平方展开成三项，交叉项的期望为 0，噪声项的期望是 $\mathbf{w}^\top\mathbb{E}[\boldsymbol\epsilon\boldsymbol\epsilon^\top]\mathbf{w}$。
#
#     ??? success "参考答案"
#         展开并利用 $\mathbb{E}[\boldsymbol\epsilon] = \mathbf{0}$、$\mathbb{E}[\boldsymbol\epsilon\boldsymbol\epsilon^\top] = s^2 I$：
#         $\mathbb{E}\bigl[(\mathbf{w}^\top\mathbf{x} - y + \mathbf{w}^\top\boldsymbol\epsilon)^2\bigr] =$ $(\mathbf{w}^\top\mathbf{x} - y)^2 + s^2\|\mathbf{w}\|^2$。
#         平均意义下，加输入噪声训练就是加了系数为 $s^2$ 的 L2 惩罚（Tikhonov 正则化）。对非线性模型这一等价只在噪声很小时近似成立。
#
# !!! question "练习 E：Adam 与权重衰减"
#     Adam 的更新是 $\mathbf{w} \leftarrow \mathbf{w} - \eta\,\hat{\mathbf{m}}/(\sqrt{\hat{\mathbf{v}}} + \varepsilon)$。
#     把 $\lambda\mathbf{w}$ 加进梯度（L2 惩罚）与 AdamW 的 $\mathbf{w} \leftarrow \mathbf{w} - \eta\,\hat{\mathbf{m}}/(\sqrt{\hat{\mathbf{v}}} + \varepsilon) - \eta\lambda\mathbf{w}$ 有什么不同？
#
#     ??? tip "提示"
#         看 $\lambda\mathbf{w}$ 这一项在两种写法中是否被 $\sqrt{\hat{\mathbf{v}}}$ 除。
#
#     ??? success "参考答案"
#         L2 惩罚的梯度 $\lambda\mathbf{w}$ 进入 $\hat{\mathbf{m}}$ 后也被 $\sqrt{\hat{\mathbf{v}}}$ 逐元素缩放：梯度历史大的权重，被衰减得反而少。
#         AdamW 把衰减从自适应缩放中拿出来，每个权重每步都按同样的比例 $1 - \eta\lambda$ 收缩，这才是"权重衰减"的本意。对 SGD 两者相同（本章的实验），对 Adam 不同。
