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
# # 激活函数
#
# !!! abstract "本章要点"
#     激活函数是夹在两个线性层之间的逐元素非线性变换。没有它，再深的网络也只是一个线性模型。
#     本章将：
#
#     1. 从"线性映射的复合仍是线性映射"出发，说明网络为什么需要非线性；
#     2. 推导 ReLU、Sigmoid、Tanh 的导数，并比较它们的取值范围、饱和区与导数上界——
#        这些性质直接决定了下一章的**梯度消失**和再下一章的 **ReLU 死亡**；
#     3. 用 `labcode` 中的实现做自检，并亲眼看到"照抄教科书公式"的 Tanh 在 $|x|$ 较大时算出 `NaN`；
#     4. 认识几个现代变体：LeakyReLU、ELU、GELU、SiLU；
#     5. 动手写一个自己的激活函数类，用同一个自检函数验证它。
#
# 本站的代码都放在 `labcode` 包里，页面中的代码单元只负责调用它。先导入本章要用的名字：

# %%
# %matplotlib inline
import torch

from labcode.activations import Activation
from labcode.selfcheck import (
    ActivationCheckError,
    check_activation_function,
    check_modern_activation,
)
from labcode.settings import get_device

print("运行设备：", get_device())

# %% [markdown]
# ## 为什么需要非线性
#
# 一个全连接层做的是仿射变换 $\mathbf{h} = W\mathbf{x} + \mathbf{b}$。假设我们把两层直接叠起来、中间不加任何非线性：
#
# $$
# \begin{aligned}
# \mathbf{o} &= W_2(W_1\mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2\\
#            &= \underbrace{(W_2W_1)}_{W}\,\mathbf{x} + \underbrace{(W_2\mathbf{b}_1 + \mathbf{b}_2)}_{\mathbf{b}} .
# \end{aligned}
# $$
#
# 结果仍是**一个**仿射变换 $W\mathbf{x} + \mathbf{b}$。用归纳法可知，任意多层仿射变换的复合都等价于单层，
# 因此"加深"不会带来任何新的表达能力：能分开的数据，单层感知机早就能分开；单层分不开的（例如异或问题），
# 一百层也分不开。
#
# 在每个仿射层之后插入一个逐元素的非线性函数 $\sigma$，
#
# $$
# \mathbf{h}_l = \sigma(W_l\mathbf{h}_{l-1} + \mathbf{b}_l),
# $$
#
# 复合就不能再被"压扁"成一层了。每一层把输入空间折叠、弯曲一次，层层叠加后可以表示非常复杂的函数。
#
# !!! info "万能逼近定理（直观版）"
#     只要激活函数不是多项式（ReLU、Sigmoid、Tanh 都满足），一个足够宽的单隐藏层网络就能在任意**紧集**（有界闭集）上以任意精度一致逼近任意连续函数。
#     定理只保证"存在"这样的参数，并不保证梯度下降找得到；而**能否找得到**，很大程度上取决于激活函数的导数——这正是后面几章的主题。
#
# ## 三个经典激活函数
#
# 下面逐个给出定义，并**推导**导数。推导时记住一件事：反向传播里，每经过一个激活函数，梯度就要乘上一次它的导数。
#
# ### ReLU
#
# $$
# \begin{gathered}
# \operatorname{ReLU}(x) = \max(0, x) =
# \begin{cases}
# x, & x > 0,\\
# 0, & x \le 0,
# \end{cases}
# \\[1.5ex]
# \operatorname{ReLU}'(x) =
# \begin{cases}
# 1, & x > 0,\\
# 0, & x < 0.
# \end{cases}
# \end{gathered}
# $$
#
# 在 $x = 0$ 处 ReLU 不可导（左导数 0，右导数 1），任取 $[0, 1]$ 中的一个值都是合法的次梯度。
# PyTorch 约定取 0，我们的实现也取 0，这样才能和 PyTorch 的自动求导结果逐点对上。
#
# ReLU 的导数在正半轴**恒等于 1**：梯度穿过它时既不放大也不缩小。代价是负半轴导数**恒等于 0**——
# 如果某个神经元对所有输入都落在负半轴，它就再也收不到梯度了（见 [ReLU 死亡](dead_relu.py)）。
#
# ### Sigmoid
#
# $$
# \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \sigma(x) \in (0, 1).
# $$
#
# 用链式法则对 $(1 + e^{-x})^{-1}$ 求导：
#
# $$
# \begin{aligned}
# \sigma'(x) &= -\left(1 + e^{-x}\right)^{-2}\cdot\left(-e^{-x}\right)\\
#            &= \frac{1}{1 + e^{-x}}\cdot\frac{e^{-x}}{1 + e^{-x}}\\
#            &= \sigma(x)\,\bigl(1 - \sigma(x)\bigr),
# \end{aligned}
# $$
#
# 其中用到了 $\dfrac{e^{-x}}{1+e^{-x}} = 1 - \dfrac{1}{1+e^{-x}}$。记 $s = \sigma(x) \in (0,1)$，
# 则 $s(1-s) = \tfrac14 - \left(s - \tfrac12\right)^2 \le \tfrac14$，当且仅当 $s = \tfrac12$（即 $x = 0$）取等号：
#
# $$
# 0 < \sigma'(x) \le \frac14 .
# $$
#
# 这个上界 $\tfrac14$ 是下一章的主角：梯度每穿过一层 Sigmoid，至少被缩小到原来的四分之一。
# 此外，当 $|x|$ 较大时 $\sigma'(x) \approx e^{-|x|}$，几乎为零，这叫**饱和**。
#
# ### Tanh
#
# $$
# \begin{gathered}
# \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \frac{\sinh x}{\cosh x},
# \\[1ex]
# \tanh(x) \in (-1, 1).
# \end{gathered}
# $$
#
# 由 $(\sinh x)' = \cosh x$、$(\cosh x)' = \sinh x$ 和商的求导法则：
#
# $$
# \begin{aligned}
# \tanh'(x) &= \frac{\cosh^2 x - \sinh^2 x}{\cosh^2 x}\\
#           &= 1 - \tanh^2(x) \in (0, 1],
# \end{aligned}
# $$
#
# 在 $x = 0$ 处取最大值 1。分子分母同乘 $e^{-x}$ 还能得到它和 Sigmoid 的关系：
#
# $$
# \tanh(x) = \frac{1 - e^{-2x}}{1 + e^{-2x}} = 2\sigma(2x) - 1 .
# $$
#
# 也就是说 Tanh 是把 Sigmoid 横向压缩一半、纵向拉伸到 $(-1, 1)$ 的版本。两者形状相同，
# 但 Tanh **以零为中心**、原点处导数是 Sigmoid 的 4 倍，所以在实践中通常比 Sigmoid 好训练。
#
# ### 三者对比
#
# | 性质 | ReLU | Sigmoid | Tanh |
# |---|---|---|---|
# | 值域 | $[0, +\infty)$ | $(0, 1)$ | $(-1, 1)$ |
# | 导数 | $\mathbb{1}[x > 0]$ | $\sigma(x)(1-\sigma(x))$ | $1 - \tanh^2(x)$ |
# | 导数上界 | $1$ | $\tfrac14$ | $1$ |
# | 饱和区 | 负半轴导数恒为 0 | 两侧都饱和 | 两侧都饱和 |
# | 输出以零为中心 | 否 | 否 | 是 |
# | 计算代价 | 一次比较 | 一次指数 | 指数 |
#
# ## 动手实现并自检
#
# 现在轮到你了。每个激活函数写成一个小类，继承 `labcode.activations.Activation`，把前向公式 `f(x)` 和手写导数
# `derivative(x)` 写在一起。基类负责剩下的事：调用 `act(x)` 得到 $f(x)$，反向传播时**真正使用你写的导数**
# （下一章的网络就是这样训练的）。
#
# !!! example "练习 1.1–1.3：ReLU、Sigmoid、Tanh 及其导数"
#     在下面的单元格里补全三个类的 `f` 和 `derivative`（练习版 Notebook 中它们是 `raise NotImplementedError(...)`）。要求：
#
#     - 对**任何**有限的 float32/float64 输入都不出现 `NaN` 或 `inf`（下一节会看到照抄定义式为什么不行）；
#     - 导数用上面推导出的表达式，不要调用自动求导。
#
#     写完后运行紧随其后的检查单元格：`check_activation_function` 在 $[-10, 10]$ 以及 $\pm 100$、$\pm 10^{30}$、
#     $\pm 3\times10^{38}$ 等极端输入上，把函数值与 `torch.relu`/`torch.sigmoid`/`torch.tanh`、导数与自动求导的结果逐点比较，
#     不符时指出是哪个函数的值还是导数、在哪些 $x$ 处、期望值与实际值，通过后画出三个函数及其导数。
#
#     这三个类只在本章的演示和自检中使用（练习是独立的）：后面各章的训练用 `labcode.activations` 中同样写法的参考实现。


# %%
class MyReLU(Activation):
    name, label = "relu", "ReLU"

    def f(self, x):
        # BEGIN SOLUTION 练习 1.1：请实现 MyReLU 的 f 与 derivative（检查：check_activation_function）
        return x.clamp(min=0)
        # END SOLUTION

    def derivative(self, x):
        # BEGIN SOLUTION 练习 1.1：请实现 MyReLU 的 f 与 derivative（检查：check_activation_function）
        return (x > 0).to(x.dtype)  # x = 0 处导数没有定义，这里取 0
        # END SOLUTION


class MySigmoid(Activation):
    name, label = "sigmoid", "Sigmoid"

    def f(self, x):
        # BEGIN SOLUTION 练习 1.2：请实现 MySigmoid 的 f 与 derivative（检查：check_activation_function）
        z = torch.exp(-x.abs())  # 只对非正数求指数：永远不会上溢
        return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
        # END SOLUTION

    def derivative(self, x):
        # BEGIN SOLUTION 练习 1.2：请实现 MySigmoid 的 f 与 derivative（检查：check_activation_function）
        z = torch.exp(-x.abs())
        return z / (1 + z) ** 2  # 等于 σ(x)(1-σ(x))，但没有相消误差
        # END SOLUTION


class MyTanh(Activation):
    name, label = "tanh", "Tanh"

    def f(self, x):
        # BEGIN SOLUTION 练习 1.3：请实现 MyTanh 的 f 与 derivative（检查：check_activation_function）
        t = torch.expm1(-2 * x.abs())  # t = e^{-2|x|} - 1 ∈ [-1, 0]
        return torch.copysign(-t / (2 + t), x)
        # END SOLUTION

    def derivative(self, x):
        # BEGIN SOLUTION 练习 1.3：请实现 MyTanh 的 f 与 derivative（检查：check_activation_function）
        e = torch.exp(-2 * x.abs())
        return 4 * e / (1 + e) ** 2  # 等于 1 - tanh²(x)
        # END SOLUTION


# %% [markdown]
# 检查你的三个类（参数是**类**本身，不是实例）：

# %%
report = check_activation_function(MyReLU, MySigmoid, MyTanh)
report

# %% [markdown]
# 对照上图检查推导：下方的导数图中 Sigmoid 的导数峰值只有 $0.25$，Tanh 的导数峰值为 1，
# 二者在 $|x|$ 稍大时都迅速贴近 0；ReLU 的导数是一个从 0 跳到 1 的阶跃。
#
# !!! note "与原实验的不同"
#     原实验中的 `MyReLU` 等是普通 Python 类，网络训练时反向传播走的是 PyTorch 对前向公式的自动求导，
#     手写的 `derivative` 只在自检里被调用。`labcode` 的激活函数是 `torch.nn.Module`，
#     反向传播时**真正使用手写导数**（通过一个自定义的 `torch.autograd.Function`），
#     所以后面几章的梯度实验检验的正是你在这里推导的公式。
#
# ## 数值稳定性：公式正确不等于代码正确
#
# 上面的 Tanh 定义式在数学上无懈可击，但计算机里的 `float32` 最大只能表示约 $3.4\times10^{38}$，
# 而 $e^{x}$ 在 $x > \ln(3.4\times 10^{38}) \approx 88.7$ 时就溢出为 `inf`。
# 把定义式原样写成代码，看看 $|x|$ 较大时会发生什么：

# %%
x = torch.tensor([-100.0, -89.0, -88.0, -20.0, 0.0, 20.0, 88.0, 89.0, 100.0])
naive_tanh = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
print("x          :", x.tolist())
print("照抄公式   :", naive_tanh.tolist())
print("MyTanh     :", MyTanh()(x).tolist())
print("torch.tanh :", torch.tanh(x).tolist())

# %% [markdown]
# 当 $x \ge 89$ 时分子分母都变成 `inf`，而 $\infty/\infty$ 在 IEEE 浮点数中定义为 `NaN`；
# 负半轴对称地出问题。一旦网络里出现一个 `NaN`，它会沿着前向和反向传播扩散，整个模型的参数都会变成 `NaN`。
# 有人会说"预激活值哪会到 89"——但学习率稍大、输入没有归一化，或者像 [ReLU 死亡](dead_relu.py) 一章那样故意制造极端设置时，它真的会到。
#
# 解决方法是改写公式，使得指数的参数永远**不为正**，从而只会下溢到 0、不会上溢到 `inf`：
#
# $$
# \begin{gathered}
# \tanh(x) = \operatorname{sign}(x)\,\frac{1 - e^{-2|x|}}{1 + e^{-2|x|}},
# \\[1.5ex]
# \sigma(x) =
# \begin{cases}
# \dfrac{1}{1 + e^{-x}}, & x \ge 0,\\[2ex]
# \dfrac{e^{x}}{1 + e^{x}}, & x < 0.
# \end{cases}
# \end{gathered}
# $$
#
# 两种写法在数学上与原式相等（Sigmoid 的第二行是分子分母同乘 $e^{x}$），但在 $|x|$ 很大时 $e^{-2|x|}$ 只会平稳地变成 0，
# 结果正确地趋于 $\pm 1$ 或 $0$、$1$。`labcode` 的 `MyTanh`、`MySigmoid` 用的就是这种写法。
#
# !!! warning "Sigmoid 的陷阱藏在反向传播里"
#     朴素的 Sigmoid 公式 `1 / (1 + torch.exp(-x))` 在 $x = -100$ 时，$e^{100}$ 上溢为 $\infty$，前向值是 $1/\infty = 0$。
#     真值 $\sigma(-100) \approx 3.72\times10^{-44}$ 其实可以用 `float32` 的**次正规数**表示（最接近的是 $3.78\times10^{-44}$，
#     下面 `MySigmoid` 一行打印的就是它），朴素公式把它丢成了 0——绝对误差很小，看上去没有问题；
#     但如果让自动求导对这个表达式求导，中间会出现 $0 \times \infty$，得到的梯度是 `NaN`：

# %%
x_neg = torch.tensor([-100.0, -20.0, 0.0], requires_grad=True)
naive = 1 / (1 + torch.exp(-x_neg))
print("朴素公式的前向值  ：", naive.tolist())
print("MySigmoid 的前向值：", MySigmoid()(x_neg.detach()).tolist())
naive.sum().backward()
print("对朴素公式自动求导：", x_neg.grad.tolist())
print("手写导数 σ(1-σ)   ：", MySigmoid().derivative(x_neg.detach()).tolist())

# %% [markdown]
# 手写导数 $\sigma(x)(1-\sigma(x))$ 只用到已经算好的、有界的 $\sigma(x)$，因此始终有限。
# `labcode` 更进一步，把它写成等价的 $\sigma'(x) = \dfrac{e^{-|x|}}{(1 + e^{-|x|})^2}$（请自己验证它与 $\sigma(x)(1-\sigma(x))$ 相等，并且关于 $x$ 对称）：
# 当 $\sigma(x)$ 接近 1 时，$1 - \sigma(x)$ 是两个相近的数相减，会损失有效数字，而这个写法只对 $-|x|$ 求一次指数，既不会溢出，也没有相消误差。
# 这是"把导数化简成函数值的表达式"在工程上的另一个好处。
#
# ## 更多激活函数
#
# ReLU 简单有效，但负半轴导数为 0。下面几个变体都试图在保持正半轴"导数约为 1"的同时，让负半轴也有梯度，
# 或者让函数处处光滑。
#
# ### LeakyReLU
#
# $$
# \begin{gathered}
# \operatorname{LeakyReLU}_\alpha(x) =
# \begin{cases} x, & x > 0,\\ \alpha x, & x \le 0, \end{cases}
# \\[1.5ex]
# \operatorname{LeakyReLU}_\alpha'(x) =
# \begin{cases} 1, & x > 0,\\ \alpha, & x < 0, \end{cases}
# \end{gathered}
# $$
#
# 常取 $\alpha = 0.01$。负半轴的导数是一个小的正数，因此神经元永远不会彻底收不到梯度。
# 把 $\alpha$ 也当作可学习参数，就是 PReLU。
#
# ### ELU
#
# $$
# \begin{gathered}
# \operatorname{ELU}_\alpha(x) =
# \begin{cases} x, & x > 0,\\ \alpha\,(e^{x} - 1), & x \le 0, \end{cases}
# \\[1.5ex]
# \operatorname{ELU}_\alpha'(x) =
# \begin{cases} 1, & x > 0,\\ \alpha\, e^{x}, & x \le 0, \end{cases}
# \\[1.5ex]
# \alpha\, e^{x} = \operatorname{ELU}_\alpha(x) + \alpha \quad (x \le 0).
# \end{gathered}
# $$
#
# 负半轴平滑地饱和到 $-\alpha$，使输出的均值更接近 0；取 $\alpha = 1$ 时函数在 0 处一阶导数连续。
#
# ### GELU
#
# 记 $\Phi$ 为标准正态分布的分布函数、$\varphi$ 为其密度：
#
# $$
# \begin{gathered}
# \operatorname{GELU}(x) = x\,\Phi(x) = \frac{x}{2}\left[1 + \operatorname{erf}\!\left(\frac{x}{\sqrt 2}\right)\right],
# \\[1.5ex]
# \operatorname{GELU}'(x) = \Phi(x) + x\,\varphi(x).
# \end{gathered}
# $$
#
# 可以把它理解为"按概率 $\Phi(x)$ 让输入通过"的平滑 ReLU。BERT、GPT 等 Transformer 模型普遍使用它。
#
# ### SiLU（Swish）
#
# $$
# \begin{gathered}
# \operatorname{SiLU}(x) = x\,\sigma(x),
# \\[1.5ex]
# \begin{aligned}
# \operatorname{SiLU}'(x) &= \sigma(x) + x\,\sigma(x)\bigl(1-\sigma(x)\bigr)\\
#                         &= \sigma(x)\bigl(1 + x\,(1 - \sigma(x))\bigr).
# \end{aligned}
# \end{gathered}
# $$
#
# 形状与 GELU 非常接近（GELU 约等于 $x\,\sigma(1.702x)$），在卷积网络（如 EfficientNet）和一些大语言模型中常用。
# GELU 和 SiLU 在负半轴有一个小的"下凹"，并非单调函数：它们的导数在负半轴有一段为负，在正半轴则会略微超过 1（见下面的导数图）。
#
# `labcode` 同样实现了这四个函数（`MyLeakyReLU`、`MyELU`、`MyGELU`、`MySiLU`），并通过注册表
# `get_activation(name)` 按名字取用。下面把七个函数和它们的导数画在一起：

# %%
from labcode import plots

fig = plots.plot_activations()
fig

# %% [markdown]
# 下面的图可以交互：在下拉框中选择 LeakyReLU 或 ELU，拖动滑块（也可以用 Tab 键选中滑块，再按方向键）改变参数 $\alpha$，
# 函数和导数按上面的公式即时重画；$\alpha = 0$ 时两者都退化为 ReLU。静态图见上。

# %%
from labcode import interactive

interactive.activation_explorer()

# %% [markdown]
# !!! tip "实践中怎么选"
#     - 隐藏层默认用 ReLU；担心神经元死亡时换 LeakyReLU 或 ELU。
#     - Transformer 类模型用 GELU，现代卷积网络常用 SiLU。
#     - Sigmoid 一般只出现在需要 $(0,1)$ 输出的地方：二分类的输出层、LSTM/GRU 的门控。
#     - Tanh 用在需要 $(-1,1)$、以零为中心的输出时，例如 RNN 的隐状态。
#
# ## 练习：一个现代激活函数
#
# !!! example "练习 1.4：任选一个现代激活函数"
#     从 LeakyReLU（$\alpha = 0.01$）、ELU（$\alpha = 1$）、GELU（精确形式，用 $\operatorname{erf}$）、SiLU 中任选一个，
#     仿照上面的类实现 `f` 和 `derivative`。检查函数 `check_modern_activation` 会认出你写的是哪一个，
#     把函数值与 PyTorch 的 `F.leaky_relu`/`F.elu`/`F.gelu`/`F.silu`、导数与自动求导逐点比较。
#     提示：GELU 要用到标准正态分布的分布函数 $\Phi(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)$（`torch.special.erfc`）；
#     ELU 的负半轴请用 `torch.expm1`，并且只对非正数求指数。
#
#     这个练习是独立的：本章和后面各章的实验都不使用 `MyModernActivation`。


# %%
class MyModernActivation(Activation):
    def f(self, x):
        # BEGIN SOLUTION 练习 1.4：任选 LeakyReLU、ELU、GELU、SiLU 之一，实现 f 与 derivative（检查：check_modern_activation）
        return torch.where(x > 0, x, torch.expm1(x.clamp(max=0)))  # ELU，α = 1
        # END SOLUTION

    def derivative(self, x):
        # BEGIN SOLUTION 练习 1.4：任选 LeakyReLU、ELU、GELU、SiLU 之一，实现 f 与 derivative（检查：check_modern_activation）
        return torch.where(x > 0, torch.ones_like(x), torch.exp(x.clamp(max=0)))
        # END SOLUTION


check_modern_activation(MyModernActivation)

# %% [markdown]
# 如果实现有误，自检会抛出 `ActivationCheckError`，指明是哪个函数的值还是导数、在哪些输入处与 PyTorch 不符。
# 自检不只覆盖 $[-10, 10]$，还包括 $\pm 100$、$\pm 10^{30}$、$\pm 3\times10^{38}$ 等极端输入，并分别用 `float32` 和 `float64` 各测一遍。
# 看看照抄定义式的 Tanh 会得到什么样的报告（这里用 `try` 捕获异常，只是为了让页面继续往下执行）：


# %%
class NaiveTanh:
    def __call__(self, x):
        return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))

    def derivative(self, x):
        t = self(x)
        return 1 - t * t


try:
    check_activation_function(MyReLU, MySigmoid, NaiveTanh, show_plot=False)
except ActivationCheckError as err:
    print(err)

# %% [markdown]
# 报告指出了出错的输入、期望值和实际值，并给出了改写公式的提示。在 $[-10, 10]$ 范围内这个实现完全正确，
# 只有极端输入才暴露出问题——这正是自检要覆盖极端值的原因。
#
# ## 思考题
#
# ??? question "思考题 1：为什么神经网络需要非线性激活函数？如果使用线性激活函数会发生什么？"
#
#     ??? tip "提示"
#         - 把激活函数换成 $\sigma(x) = ax$，写出两层网络的输出，看它能否化简成单层。
#         - 这样的网络能解决异或（XOR）问题吗？它的决策边界是什么形状？
#         - 深度线性网络 $W_L\cdots W_2W_1$ 和单层 $W$ 相比，能表示的函数集合有没有变大？有没有可能变小（考虑中间层比输入输出都窄时矩阵乘积的秩）？
#
#     ??? success "参考思路"
#         线性（仿射）函数的复合仍是仿射函数，因此无论叠多少层，网络都只能表示 $W\mathbf{x}+\mathbf{b}$：
#         分类时决策边界只能是超平面，连 XOR 都分不开，回归时只能拟合线性关系。深度不仅没有带来新的表达能力，
#         窄的中间层还会让乘积矩阵 $W_L\cdots W_1$ 的秩不超过最窄层的宽度，表达能力反而可能下降。
#         （有意思的是，深度线性网络的损失曲面并不是凸的，训练动态与单层不同，但最终能表示的函数集合仍然是线性函数。）
#         非线性激活函数打破了"复合仍线性"，使每一层都能弯曲、折叠输入空间；
#         配合足够的宽度或深度，网络才能逼近任意复杂的函数。
#         选择哪一种非线性，则会影响梯度能否顺利传到浅层——这是下一章[梯度消失](gradient_vanishing.py)要回答的问题。

# %% [markdown]
# ## 练习与思考
#
# 下面的题目各有折叠的提示和参考答案：先自己想（需要时动手跑一跑），再展开对照。
#
# !!! question "练习 A：PReLU 的导数"
#     PReLU 把 LeakyReLU 的斜率 $a$ 当作可学习参数：$f(x) = x$（$x > 0$），$f(x) = a x$（$x \le 0$）。
#     分别求 $\partial f/\partial x$ 和 $\partial f/\partial a$；如果一层的所有神经元共用一个 $a$，它的梯度是什么？
#
#     ??? tip "提示"
#         分段求导；$a$ 被一层的所有神经元、所有样本共用，梯度要把它们的贡献加起来。
#
#     ??? success "参考答案"
#         $\partial f/\partial x = 1$（$x > 0$）或 $a$（$x < 0$）；$\partial f/\partial a = 0$（$x > 0$）或 $x$（$x \le 0$）。
#         共用一个 $a$ 时，由链式法则，它的梯度是所有样本、所有神经元上 $\delta \cdot \partial f/\partial a$ 之和：
#         $\dfrac{\partial \ell}{\partial a} = \sum_{\text{样本}}\sum_j \delta_j\, z_j\, \mathbb{1}[z_j \le 0]$，只有落在负半轴的预激活值才贡献梯度。
#
# !!! question "练习 B：用 Sigmoid 表示 Tanh 的导数"
#     由 $\tanh(x) = 2\sigma(2x) - 1$ 直接求导，能否得到 $\tanh'(x)$ 与 $\sigma'$ 的关系？由此说明 $\tanh'(0)$ 是 $\sigma'(0)$ 的几倍。
#
#     ??? tip "提示"
#         对 $2\sigma(2x) - 1$ 用链式法则，内层函数 $2x$ 的导数是 2。
#
#     ??? success "参考答案"
#         $\tanh'(x) = 2 \cdot 2\,\sigma'(2x) = 4\sigma'(2x)$。在 $x = 0$ 处 $\tanh'(0) = 4 \cdot \tfrac14 = 1$，是 $\sigma'(0) = \tfrac14$ 的 4 倍。
#         这正是下一章里 Tanh 网络每层衰减因子（约 $0.58$）比 Sigmoid（约 $0.14$）大 4 倍的来源。
#
# !!! question "练习 C：Softplus 与数值稳定"
#     Softplus $\operatorname{sp}(x) = \ln(1 + e^{x})$ 是 ReLU 的光滑版本。求它的导数；照抄定义式在 $x = 100$（float32）时会得到什么？怎样改写才稳定？
#
#     ??? tip "提示"
#         $\ln(1 + e^{x}) = x + \ln(1 + e^{-x})$；仿照本章 Sigmoid 的做法，只对 $-|x|$ 求指数。
#
#     ??? success "参考答案"
#         $\operatorname{sp}'(x) = \dfrac{e^x}{1+e^x} = \sigma(x)$。float32 中 $e^{100} = \infty$，$\ln(1+\infty) = \infty$，而真值约为 $100$。
#         稳定写法：$\operatorname{sp}(x) = \max(x, 0) + \ln\!\bigl(1 + e^{-|x|}\bigr)$，只对非正数求指数；`torch.log1p` 还能保证 $e^{-|x|}$ 很小时的精度。
#
# !!! question "练习 D：SiLU 的最小值"
#     SiLU $x\,\sigma(x)$ 不是单调函数。令 $\operatorname{SiLU}'(x) = \sigma(x)\bigl(1 + x(1-\sigma(x))\bigr) = 0$，求它的最小值点和最小值（数值解即可，可以用几行 `torch` 代码二分）。
#
#     ??? tip "提示"
#         最小值点在负半轴；$g(x) = 1 + x(1 - \sigma(x))$ 在 $[-3, 0]$ 上从负变正，可以二分。
#
#     ??? success "参考答案"
#         $\sigma(x) > 0$，所以只需 $1 + x(1 - \sigma(x)) = 0$。数值解 $x^\ast \approx -1.278$，此时 $\sigma(x^\ast) \approx 0.218$，
#         最小值 $x^\ast\sigma(x^\ast) \approx -0.278$。在 $x < x^\ast$ 处导数为负：函数先下降再上升，这就是图中负半轴的"下凹"。
