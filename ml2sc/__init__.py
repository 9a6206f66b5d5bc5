"""PyTorch MLP -> fixed-point Solidity, deployed and run on an EVM."""
