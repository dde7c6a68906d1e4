"""The MMAction2 speed study: the published speed table, the benchmark cases and the peers' builders of the
same networks, the benchmark and its command, the params files, the speed chapter and the benchmark notebook."""
