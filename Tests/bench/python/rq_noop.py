"""The no-op job RQ runs in the jobs benchmark."""


def noop(index):
    return index
