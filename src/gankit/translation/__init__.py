"""Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired), in one package.

    config.py      which recipes translate, their per-task defaults and config checks
    data.py        two-domain data by name (shipped tasks, pairs=DIR, A=X,B=Y): datasets.py, tasks.py,
                   folders.py and pixels.py hold the data set classes, the tasks, the user's folders, conversions
    nets.py        U-Net / ResNet generators and PatchGAN discriminators of a run
    losses.py      the adversarial, L1, cycle and identity terms
    image_pool.py  CycleGAN's pool of past fakes
    step.py        the pix2pix and CycleGAN steps (the papers' algorithm boxes)
    train.py       a run: data, nets and step under the run harness (gankit.training.harness)
    translate.py   translating images with a trained run, and its evaluation
"""
