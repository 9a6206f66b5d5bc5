// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title MerkleVerifier
/// @notice The baseline the Verkle verifiers are measured against: a keccak256 Merkle root held by an
/// owner, and proofs checked by OpenZeppelin's rules (StandardMerkleTree leaves for (bytes32 key,
/// bytes32 value): keccak256(keccak256(abi.encode(key, value))); sorted-pair hashing; single proofs
/// as MerkleProof.verify, multiproofs as MerkleProof.multiProofVerify). Written for this project from
/// those published rules; calldata variants, as a verifier contract would use them.
contract MerkleVerifier {
    address public owner;
    bytes32 public root;

    event RootUpdated(bytes32 root);

    error NotOwner();
    error MerkleProofInvalidMultiproof();

    constructor(bytes32 initialRoot) {
        owner = msg.sender;
        root = initialRoot;
        emit RootUpdated(initialRoot);
    }

    function setRoot(bytes32 newRoot) external {
        if (msg.sender != owner) revert NotOwner();
        root = newRoot;
        emit RootUpdated(newRoot);
    }

    function leafHash(bytes32 key, bytes32 value) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(key, value))));
    }

    function verify(bytes32[] calldata proof, bytes32 key, bytes32 value) external view returns (bool) {
        bytes32 computed = leafHash(key, value);
        for (uint256 i = 0; i < proof.length; i++) {
            computed = _hashPair(computed, proof[i]);
        }
        return computed == root;
    }

    /// @param keys, values  the leaves in the order the multiproof consumes them
    function multiProofVerify(bytes32[] calldata proof, bool[] calldata proofFlags, bytes32[] calldata keys,
                              bytes32[] calldata values) external view returns (bool) {
        uint256 leavesLen = keys.length;
        uint256 proofFlagsLen = proofFlags.length;
        if (values.length != leavesLen || leavesLen + proof.length != proofFlagsLen + 1) {
            revert MerkleProofInvalidMultiproof();
        }
        bytes32[] memory leaves = new bytes32[](leavesLen);
        for (uint256 i = 0; i < leavesLen; i++) {
            leaves[i] = leafHash(keys[i], values[i]);
        }
        bytes32[] memory hashes = new bytes32[](proofFlagsLen);
        uint256 leafPos = 0;
        uint256 hashPos = 0;
        uint256 proofPos = 0;
        for (uint256 i = 0; i < proofFlagsLen; i++) {
            bytes32 a = leafPos < leavesLen ? leaves[leafPos++] : hashes[hashPos++];
            bytes32 b = proofFlags[i]
                ? (leafPos < leavesLen ? leaves[leafPos++] : hashes[hashPos++])
                : proof[proofPos++];
            hashes[i] = _hashPair(a, b);
        }
        bytes32 computed;
        if (proofFlagsLen > 0) {
            if (proofPos != proof.length) revert MerkleProofInvalidMultiproof();
            computed = hashes[proofFlagsLen - 1];
        } else if (leavesLen > 0) {
            computed = leaves[0];
        } else {
            computed = proof[0];
        }
        return computed == root;
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            switch lt(a, b)
            case 1 {
                mstore(0x00, a)
                mstore(0x20, b)
            }
            default {
                mstore(0x00, b)
                mstore(0x20, a)
            }
            h := keccak256(0x00, 0x40)
        }
    }
}
