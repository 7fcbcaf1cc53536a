"""交互图：由实验结果生成可在浏览器中操作的图（Bokeh），不需要 Jupyter 内核，也不访问任何 CDN。

每章一张，函数返回 :class:`InteractiveFigure`：

- :func:`activation_explorer`：LeakyReLU / ELU 及其导数，滑块调节 α（浏览器按闭式公式计算）；
- :func:`gradient_explorer` ``(sweep)``：深度扫描中各层的平均 |grad|，按深度与激活函数选择；
- :func:`dead_units_explorer` ``(mild, dying)``：各层死亡神经元比例随 epoch 的变化，按设置与激活函数选择；
- :func:`lambda_explorer` ``(sweep)``：λ 扫描中的权重直方图与训练/测试损失，按 λ 选择；
- :func:`dropout_explorer` ``(sweep)``：dropout 扫描中的准确率曲线与泛化差距，按 p 选择。

控件的回调只在 Python 预先算好的数据之间切换（激活函数图除外）。在课程网站上这些图可以交互，
它们所画的数据写在页面旁的 ``results/<图的编号>.json``；在普通的 Jupyter 中单元格只显示一段
说明文字（静态图在它上方）。需要 ``bokeh>=3.4``；导入本包不会导入 Bokeh。
"""

from __future__ import annotations

from .activations import activation_explorer
from .common import MIME_TYPE, InteractiveFigure
from .dead_units import dead_units_explorer
from .dropout import dropout_explorer
from .gradients import gradient_explorer
from .l2 import lambda_explorer

__all__ = [
    "MIME_TYPE",
    "InteractiveFigure",
    "activation_explorer",
    "dead_units_explorer",
    "dropout_explorer",
    "gradient_explorer",
    "lambda_explorer",
]
