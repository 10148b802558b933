// The ext2 on-disk format (revisions 0 and 1), as e2fsprogs and the Linux
// ext2 driver define it.  All fields are little-endian; the kernel only
// targets little-endian machines (checked below).  Structures are read and
// written with memcpy at checked offsets, never by casting buffer pointers.
#pragma once

#include <ak/base.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ext2 code assumes little-endian");

namespace ak::ext2 {

constexpr uint16_t k_magic = 0xEF53;
constexpr uint64_t k_superblock_offset = 1024;
constexpr uint32_t k_superblock_size = 1024;
constexpr uint32_t k_root_ino = 2;
constexpr uint32_t k_resize_ino = 7;
constexpr uint32_t k_good_old_first_ino = 11;
constexpr uint32_t k_good_old_inode_size = 128;
constexpr uint32_t k_ndir_blocks = 12;
constexpr uint32_t k_ind_block = 12, k_dind_block = 13, k_tind_block = 14;
constexpr uint32_t k_n_blocks = 15;
constexpr uint32_t k_link_max = 32000;
constexpr uint32_t k_name_len = 255;

// s_state
constexpr uint16_t k_state_valid = 1;
constexpr uint16_t k_state_error = 2;

// Features (compat / incompat / ro_compat).
constexpr uint32_t k_compat_dir_prealloc = 0x1;
constexpr uint32_t k_compat_imagic_inodes = 0x2;
constexpr uint32_t k_compat_has_journal = 0x4;
constexpr uint32_t k_compat_ext_attr = 0x8;
constexpr uint32_t k_compat_resize_inode = 0x10;
constexpr uint32_t k_compat_dir_index = 0x20;

constexpr uint32_t k_incompat_compression = 0x1;
constexpr uint32_t k_incompat_filetype = 0x2;
constexpr uint32_t k_incompat_recover = 0x4;
constexpr uint32_t k_incompat_journal_dev = 0x8;
constexpr uint32_t k_incompat_meta_bg = 0x10;
constexpr uint32_t k_incompat_extents = 0x40;
constexpr uint32_t k_incompat_64bit = 0x80;
constexpr uint32_t k_incompat_mmp = 0x100;
constexpr uint32_t k_incompat_flex_bg = 0x200;
constexpr uint32_t k_incompat_inline_data = 0x8000;

constexpr uint32_t k_ro_compat_sparse_super = 0x1;
constexpr uint32_t k_ro_compat_large_file = 0x2;
constexpr uint32_t k_ro_compat_btree_dir = 0x4;
constexpr uint32_t k_ro_compat_huge_file = 0x8;
constexpr uint32_t k_ro_compat_gdt_csum = 0x10;
constexpr uint32_t k_ro_compat_dir_nlink = 0x20;
constexpr uint32_t k_ro_compat_extra_isize = 0x40;
constexpr uint32_t k_ro_compat_metadata_csum = 0x400;

// What we read and write.
constexpr uint32_t k_incompat_rw = k_incompat_filetype;
constexpr uint32_t k_ro_compat_rw = k_ro_compat_sparse_super | k_ro_compat_large_file;
// What we can read (extent-mapped or inline files then fail with
// EOPNOTSUPP one by one; group descriptors of 64bit file systems are read
// with their high halves checked to be zero).
constexpr uint32_t k_incompat_ro = k_incompat_filetype | k_incompat_extents | k_incompat_64bit |
                                   k_incompat_flex_bg | k_incompat_mmp | k_incompat_inline_data;

// i_flags
constexpr uint32_t k_flag_index = 0x1000; // hashed-indexed directory
constexpr uint32_t k_flag_huge_file = 0x40000;
constexpr uint32_t k_flag_extents = 0x80000;
constexpr uint32_t k_flag_inline_data = 0x10000000;

// Directory entry file types (with the filetype feature).
constexpr uint8_t k_ft_unknown = 0, k_ft_reg = 1, k_ft_dir = 2, k_ft_chr = 3, k_ft_blk = 4,
                  k_ft_fifo = 5, k_ft_sock = 6, k_ft_lnk = 7;

struct Superblock {
    uint32_t s_inodes_count;
    uint32_t s_blocks_count;
    uint32_t s_r_blocks_count;
    uint32_t s_free_blocks_count;
    uint32_t s_free_inodes_count;
    uint32_t s_first_data_block;
    uint32_t s_log_block_size;
    uint32_t s_log_frag_size;
    uint32_t s_blocks_per_group;
    uint32_t s_frags_per_group;
    uint32_t s_inodes_per_group;
    uint32_t s_mtime;
    uint32_t s_wtime;
    uint16_t s_mnt_count;
    int16_t s_max_mnt_count;
    uint16_t s_magic;
    uint16_t s_state;
    uint16_t s_errors;
    uint16_t s_minor_rev_level;
    uint32_t s_lastcheck;
    uint32_t s_checkinterval;
    uint32_t s_creator_os;
    uint32_t s_rev_level;
    uint16_t s_def_resuid;
    uint16_t s_def_resgid;
    // Revision 1 (dynamic) only.
    uint32_t s_first_ino;
    uint16_t s_inode_size;
    uint16_t s_block_group_nr;
    uint32_t s_feature_compat;
    uint32_t s_feature_incompat;
    uint32_t s_feature_ro_compat;
    uint8_t s_uuid[16];
    char s_volume_name[16];
    char s_last_mounted[64];
    uint32_t s_algorithm_usage_bitmap;
    uint8_t s_prealloc_blocks;
    uint8_t s_prealloc_dir_blocks;
    uint16_t s_reserved_gdt_blocks;
    uint8_t s_journal_uuid[16];
    uint32_t s_journal_inum;
    uint32_t s_journal_dev;
    uint32_t s_last_orphan;
    uint32_t s_hash_seed[4];
    uint8_t s_def_hash_version;
    uint8_t s_jnl_backup_type;
    uint16_t s_desc_size;
    uint32_t s_default_mount_opts;
    uint32_t s_first_meta_bg;
    uint32_t s_mkfs_time;
    uint32_t s_jnl_blocks[17];
    uint32_t s_blocks_count_hi;
    uint32_t s_r_blocks_count_hi;
    uint32_t s_free_blocks_hi;
    uint16_t s_min_extra_isize;
    uint16_t s_want_extra_isize;
    uint8_t s_rest[1024 - 0x160];
};
static_assert(sizeof(Superblock) == 1024);
static_assert(__builtin_offsetof(Superblock, s_reserved_gdt_blocks) == 0xCE);
static_assert(__builtin_offsetof(Superblock, s_desc_size) == 0xFE);
static_assert(__builtin_offsetof(Superblock, s_min_extra_isize) == 0x15C);

struct GroupDesc {
    uint32_t bg_block_bitmap;
    uint32_t bg_inode_bitmap;
    uint32_t bg_inode_table;
    uint16_t bg_free_blocks_count;
    uint16_t bg_free_inodes_count;
    uint16_t bg_used_dirs_count;
    uint16_t bg_flags;
    uint32_t bg_reserved[3];
};
static_assert(sizeof(GroupDesc) == 32);

// The first 160 bytes of an inode: the 128-byte base and the extra fields
// up to i_crtime_extra (present when i_extra_isize covers them).
struct Inode {
    uint16_t i_mode;
    uint16_t i_uid;
    uint32_t i_size;
    uint32_t i_atime;
    uint32_t i_ctime;
    uint32_t i_mtime;
    uint32_t i_dtime;
    uint16_t i_gid;
    uint16_t i_links_count;
    uint32_t i_blocks;
    uint32_t i_flags;
    uint32_t i_osd1;
    uint32_t i_block[k_n_blocks];
    uint32_t i_generation;
    uint32_t i_file_acl;
    uint32_t i_size_high;
    uint32_t i_faddr;
    uint16_t l_i_blocks_hi;
    uint16_t l_i_file_acl_high;
    uint16_t l_i_uid_high;
    uint16_t l_i_gid_high;
    uint16_t l_i_checksum_lo;
    uint16_t l_i_reserved;
    // Large inodes (s_inode_size > 128).
    uint16_t i_extra_isize;
    uint16_t i_checksum_hi;
    uint32_t i_ctime_extra;
    uint32_t i_mtime_extra;
    uint32_t i_atime_extra;
    uint32_t i_crtime;
    uint32_t i_crtime_extra;
};
static_assert(sizeof(Inode) == 152);
static_assert(__builtin_offsetof(Inode, i_block) == 40);
static_assert(__builtin_offsetof(Inode, i_extra_isize) == 128);

// Extra fields present when i_extra_isize >= this (relative to 128).
constexpr uint32_t k_extra_times_size = 16;  // ctime/mtime/atime _extra
constexpr uint32_t k_extra_crtime_size = 24; // + i_crtime, i_crtime_extra

struct DirEntryHeader {
    uint32_t inode;
    uint16_t rec_len;
    uint8_t name_len;
    uint8_t file_type; // high byte of name_len without the filetype feature
};
static_assert(sizeof(DirEntryHeader) == 8);

// Space a directory entry with a name of len bytes needs.
constexpr uint32_t dirent_size(uint32_t name_len) {
    return (8 + name_len + 3) & ~3u;
}

// Extended attribute block header (we only keep its reference count right).
constexpr uint32_t k_xattr_magic = 0xEA020000;

} // namespace ak::ext2
