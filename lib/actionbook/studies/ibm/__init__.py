"""The IBM study (Chen et al., CVPR 2021): its published table, the row-name grammar of its code base, the rows'
params files, what the train notebook shows of a row, and the IBM chapter."""
