using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using LlavaMed.Models;
using TorchSharp;

namespace LlavaMed.Tests.Models;

/// <summary>Audits of the IL of our assemblies for TorchSharp uses that break only under concurrency, so a test
/// run cannot show them reliably.</summary>
public sealed class TorchSharpUsageAuditTests
{
    static readonly Assembly[] LibraryAndCli = [typeof(LlavaForCausalLM).Assembly, typeof(LlavaMed.Cli.CliApp).Assembly];

    /// <summary>TorchSharp 0.107 turns numbers into <see cref="Scalar"/> objects that nothing keeps alive, also inside
/// its own methods (<c>a + b</c> passes an implicit alpha of 1; AdamW's step makes several per parameter). When
/// another thread triggers a garbage collection during the native call, the finalizer frees the Scalar while
/// libtorch still reads it: long curriculum runs died with "Unknown scalar type" / toFloat assertions. This audit
    /// reads the IL of TorchSharp and of our assemblies and fails on every call path from our code to an implicit
    /// Scalar conversion, so the fix (kept-alive Scalars, <see cref="TensorArithmetic"/>, our own AdamW) cannot regress.</summary>
    [Fact]
    public void OurAssembliesNeverReachAnImplicitScalarConversion()
    {
        var torchSharp = CallGraph.Read(typeof(torch).Assembly.Location);
        var unsafeMethods = torchSharp.Closure(torchSharp.Methods.Where(m => m.Value.Calls.Any(IsImplicitScalar)).Select(m => m.Key));
        // A TorchSharp type whose virtual methods reach a conversion (an optimiser's step, an activation's forward)
        // is unsafe to create: our calls then reach it through the base class, which the call graph cannot follow.
        var unsafeTypes = torchSharp.Methods.Where(m => m.Value.IsVirtual && unsafeMethods.Contains(m.Key)).Select(m => m.Value.DeclaringType).ToHashSet();
        var constructing = torchSharp.Closure(torchSharp.Methods.Where(m => m.Value.Constructs.Overlaps(unsafeTypes)).Select(m => m.Key));
        Assert.Contains("TorchSharp.torch/Tensor::op_Addition(TorchSharp.torch/Tensor,TorchSharp.torch/Tensor)", unsafeMethods); // the audit sees the known case
        Assert.Contains("TorchSharp.Modules.AdamW", unsafeTypes);

        var offences = new List<string>();
        foreach (var assembly in LibraryAndCli)
        foreach (var (name, method) in CallGraph.Read(assembly.Location).Methods)
        {
            offences.AddRange(method.Calls.Where(c => IsImplicitScalar(c) || unsafeMethods.Contains(c) || constructing.Contains(c)).Select(c => $"{name} -> {c}"));
            offences.AddRange(method.Constructs.Where(unsafeTypes.Contains).Select(t => $"{name} -> new {t}"));
        }
        Assert.True(offences.Count == 0, "calls that create a Scalar nothing keeps alive (use explicit, disposed or static Scalars):\n"
                                        + string.Join("\n", offences.Distinct().Order()));
    }

    /// <summary>libtorch's default dtype and device are one setting for the whole process: a model built in bf16 by
    /// switching the default made tensors created meanwhile on other threads bf16 too (CI failed that way). Layers
    /// take their dtype and device explicitly instead (<see cref="ParameterPlacement"/>).</summary>
    [Fact]
    public void OurAssembliesNeverChangeTheProcessWideTensorDefaults()
    {
        var offences = LibraryAndCli.Append(typeof(TorchSharpUsageAuditTests).Assembly)
            .SelectMany(assembly => CallGraph.Read(assembly.Location).Methods)
            .SelectMany(m => m.Value.Calls.Where(c => c.StartsWith("TorchSharp.torch::set_default_", StringComparison.Ordinal))
                .Select(c => $"{m.Key} -> {c}"))
            .ToList();
        Assert.True(offences.Count == 0, "calls that change libtorch's process-wide defaults (pass dtype and device explicitly):\n"
                                        + string.Join("\n", offences.Order()));
    }

    static bool IsImplicitScalar(string call) => call.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal);

    /// <summary>The calls (call, callvirt, newobj, ldftn) of every method body of one assembly, keyed
    /// <c>Namespace.Type/Nested::Name(ParameterTypes)</c> so references from other assemblies match definitions.</summary>
    sealed record CallGraph(IReadOnlyDictionary<string, MethodCalls> Methods)
    {
        public HashSet<string> Closure(IEnumerable<string> seeds)
        {
            var result = seeds.ToHashSet();
            for (bool grew = true; grew;)
            {
                grew = false;
                foreach (var (name, method) in Methods)
                    if (!result.Contains(name) && method.Calls.Overlaps(result)) grew = result.Add(name) | grew;
            }
            return result;
        }

        public static CallGraph Read(string path)
        {
            using var pe = new PEReader(File.OpenRead(path));
            var reader = pe.GetMetadataReader();
            var names = new SignatureNames(reader);
            var methods = new Dictionary<string, MethodCalls>();
            foreach (var handle in reader.MethodDefinitions)
            {
                var definition = reader.GetMethodDefinition(handle);
                var calls = new HashSet<string>();
                var constructs = new HashSet<string>();
                if (definition.RelativeVirtualAddress != 0)
                    foreach (var (opcode, token) in MethodTokens(pe.GetMethodBody(definition.RelativeVirtualAddress)))
                    {
                        var target = names.Method(MetadataTokens.EntityHandle(token));
                        if (target is null) continue;
                        calls.Add(target.Value.Key);
                        if (opcode == OpCodes.Newobj.Value) constructs.Add(target.Value.Type);
                    }
                var type = names.Type(definition.GetDeclaringType());
                methods[names.Key(type, definition.Name, definition.DecodeSignature(names, null))] =
                    new MethodCalls(OwningType(type), (definition.Attributes & MethodAttributes.Virtual) != 0, calls, constructs);
            }
            return new CallGraph(methods);
        }

        /// <summary>Compiler-generated closures belong to the type whose method they implement.</summary>
        static string OwningType(string type)
        {
            int generated = type.IndexOf("/<", StringComparison.Ordinal);
            return generated < 0 ? type : type[..generated];
        }

        static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

        static IEnumerable<(short OpCode, int Token)> MethodTokens(MethodBodyBlock body)
        {
            var il = body.GetILReader();
            var found = new List<(short, int)>();
            while (il.RemainingBytes > 0)
            {
                short opcode = il.ReadByte();
                if (opcode == 0xFE) opcode = unchecked((short)(0xFE00 | il.ReadByte()));
                switch (Operands[opcode])
                {
                    case OperandType.InlineMethod: found.Add((opcode, il.ReadInt32())); break;
                    case OperandType.InlineNone: break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.Offset += 1; break;
                    case OperandType.InlineVar: il.Offset += 2; break;
                    case OperandType.InlineI8 or OperandType.InlineR: il.Offset += 8; break;
                    case OperandType.InlineSwitch: int targets = il.ReadInt32(); il.Offset += 4 * targets; break;
                    default: il.Offset += 4; break;
                }
            }
            return found;
        }
    }

    sealed record MethodCalls(string DeclaringType, bool IsVirtual, HashSet<string> Calls, HashSet<string> Constructs);

    /// <summary>Type and method names from metadata, the same whether a method is defined here or referenced.</summary>
    sealed class SignatureNames(MetadataReader reader) : ISignatureTypeProvider<string, object?>
    {
        public string Key(string type, StringHandle name, MethodSignature<string> signature) =>
            $"{type}::{reader.GetString(name)}({string.Join(",", signature.ParameterTypes)})";

        public (string Key, string Type)? Method(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.MethodDefinition:
                    var definition = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                    var owner = Type(definition.GetDeclaringType());
                    return (Key(owner, definition.Name, definition.DecodeSignature(this, null)), owner);
                case HandleKind.MemberReference:
                    var reference = reader.GetMemberReference((MemberReferenceHandle)handle);
                    if (reference.GetKind() != MemberReferenceKind.Method) return null;
                    var parent = reference.Parent.Kind switch
                    {
                        HandleKind.TypeReference => Type((TypeReferenceHandle)reference.Parent),
                        HandleKind.TypeDefinition => Type((TypeDefinitionHandle)reference.Parent),
                        HandleKind.TypeSpecification => GenericDefinition(reader.GetTypeSpecification((TypeSpecificationHandle)reference.Parent).DecodeSignature(this, null)),
                        _ => "?",
                    };
                    return (Key(parent, reference.Name, reference.DecodeMethodSignature(this, null)), parent);
                case HandleKind.MethodSpecification:
                    return Method(reader.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
                default:
                    return null;
            }
        }

        static string GenericDefinition(string type) => type.Split('<')[0];

        public string Type(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            var declaring = type.GetDeclaringType();
            return declaring.IsNil ? Qualified(type.Namespace, type.Name) : $"{Type(declaring)}/{reader.GetString(type.Name)}";
        }

        public string Type(TypeReferenceHandle handle)
        {
            var type = reader.GetTypeReference(handle);
            return type.ResolutionScope.Kind == HandleKind.TypeReference
                ? $"{Type((TypeReferenceHandle)type.ResolutionScope)}/{reader.GetString(type.Name)}"
                : Qualified(type.Namespace, type.Name);
        }

        string Qualified(StringHandle ns, StringHandle name) =>
            ns.IsNil || reader.GetString(ns).Length == 0 ? reader.GetString(name) : $"{reader.GetString(ns)}.{reader.GetString(name)}";

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => Type(handle);
        public string GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => Type(handle);
        public string GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            r.GetTypeSpecification(handle).DecodeSignature(this, context);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => $"{elementType}[{new string(',', shape.Rank - 1)}]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            $"{genericType}<{string.Join(",", typeArguments)}>";
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "method*";
    }
}
