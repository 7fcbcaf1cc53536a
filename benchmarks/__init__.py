"""基准测试：原实验（original）的训练方式 vs. labcode 的快速路径。

- :mod:`benchmarks.original_baseline`：忠实重现原实验的训练循环（torchvision ``datasets.MNIST`` +
  逐张图片的 PIL 变换 + ``DataLoader``、每个批次把梯度拷到 numpy、每个批次 ``.item()``、
  ReLU 死亡实验每个 epoch 重新加载数据），只作为对照基线保存在这里，labcode 不使用它。
- :mod:`benchmarks.run`：在同样的数据、epoch 数和模型上分别运行两条路径，打印每个 epoch 的秒数、
  加速比、最终准确率是否在噪声范围内一致，以及峰值内存。运行：``python -m benchmarks.run``
  或 ``nox -s bench``（GPU：``nox -s bench -- --device cuda --profile full``）。
- :mod:`benchmarks.lab_timing`：整个实验课（各章调用的全部实验）的计算时间，逐个计时。
- :mod:`benchmarks.standin`：完整规模的计时替身（离线子集平铺到 60000/10000 张）。
"""
