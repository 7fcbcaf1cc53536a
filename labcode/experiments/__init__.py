"""实验：每个实验一个模块，都返回 ExperimentResult（数据，不是打印）。"""
