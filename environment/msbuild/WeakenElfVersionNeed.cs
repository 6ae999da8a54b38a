// MSBuild inline task (see Directory.Build.targets). TorchSharp-cpu 0.107.0's libLibTorchSharp.so was linked
// against GCC 13's libstdc++ and asks for GLIBCXX_3.4.32, which Debian 12 (GCC 12) lacks. Only the marker symbol
// _ZSt21ios_base_library_initv carries that version, so marking that one version requirement weak
// (VER_FLG_WEAK in .gnu.version_r) lets the loader accept the library. We patch copies in build/publish
// outputs only, writing a new file and renaming it over the old one so a hard-linked NuGet cache file is
// never modified.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenElfVersionNeed : Task
{
    const ushort VerFlgWeak = 0x2;

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            var bytes = File.ReadAllBytes(path);
            switch (Weaken(bytes, VersionName))
            {
                case Outcome.Patched:
                    var temporary = path + ".weak-tmp";
                    File.WriteAllBytes(temporary, bytes);
                    File.Delete(path); // unlink first: a hard link into the NuGet cache stays untouched
                    File.Move(temporary, path);
                    Log.LogMessage(MessageImportance.High, $"Marked {VersionName} weak in {path}");
                    break;
                case Outcome.AlreadyWeak:
                    break;
                case Outcome.NotRequired:
                    Log.LogMessage(MessageImportance.Low, $"{path} does not require {VersionName}");
                    break;
                case Outcome.NotElf64:
                    Log.LogWarning($"{path} is not a 64-bit little-endian ELF file; left unchanged");
                    break;
            }
        }
        return !Log.HasLoggedErrors;
    }

    enum Outcome { Patched, AlreadyWeak, NotRequired, NotElf64 }

    static Outcome Weaken(byte[] elf, string versionName)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 || elf[5] != 1)
            return Outcome.NotElf64;
        long sectionHeaders = BitConverter.ToInt64(elf, 0x28);
        int sectionHeaderSize = BitConverter.ToUInt16(elf, 0x3A);
        int sectionCount = BitConverter.ToUInt16(elf, 0x3C);
        const uint ShtGnuVerneed = 0x6ffffffe;
        for (int i = 0; i < sectionCount; i++)
        {
            long header = sectionHeaders + (long)i * sectionHeaderSize;
            if (BitConverter.ToUInt32(elf, (int)header + 4) != ShtGnuVerneed) continue;
            long verneed = BitConverter.ToInt64(elf, (int)header + 0x18);
            int linkedStrings = (int)BitConverter.ToUInt32(elf, (int)header + 0x28);
            long strings = BitConverter.ToInt64(elf, (int)(sectionHeaders + (long)linkedStrings * sectionHeaderSize) + 0x18);
            for (long need = verneed; ; )
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    long name = strings + BitConverter.ToUInt32(elf, (int)aux + 8);
                    if (ReadCString(elf, name) == versionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0) return Outcome.AlreadyWeak;
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                        return Outcome.Patched;
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return Outcome.NotRequired;
    }

    static string ReadCString(byte[] bytes, long offset)
    {
        int end = (int)offset;
        while (bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)offset, end - (int)offset);
    }
}
